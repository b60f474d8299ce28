package mcpgw

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Config is the YAML file's mcp: section.
type Config struct {
	// Servers are the upstream MCP servers; none: the gateway is off.
	Servers []ServerConfig `yaml:"servers"`
	// AllowedOrigins are the browser origins ("https://app.example.com")
	// allowed besides the bridge's own: a request with any other Origin
	// header is refused 403 (DNS rebinding, cross-site pages).
	AllowedOrigins []string `yaml:"allowed_origins"`
	// SessionTimeout closes client sessions idle this long (default 30m).
	SessionTimeout time.Duration `yaml:"session_timeout"`
}

// ServerConfig is one upstream server: a stdio command or a Streamable
// HTTP URL.
type ServerConfig struct {
	// Name prefixes the server's tools ("<name>__<tool>"): lower-case
	// letters, digits and single hyphens, at most 32 characters.
	Name string `yaml:"name"`
	// Command runs a stdio server: the program and its arguments.
	Command []string `yaml:"command"`
	// Env is added to the stdio server's environment, which otherwise
	// holds only PATH, HOME, USER, LANG, TZ and TMPDIR: the bridge's own
	// secrets (provider keys) never reach a tool server.
	Env map[string]string `yaml:"env"`
	// Dir is the stdio server's working directory (default: the
	// bridge's).
	Dir string `yaml:"dir"`
	// URL is a Streamable HTTP server's endpoint (http or https).
	URL string `yaml:"url"`
	// Headers are sent with every request to URL (credentials): held by
	// the bridge, never shown to clients or logged.
	Headers map[string]string `yaml:"headers"`
	// UseProxy sends the HTTP server's requests through LLMBRIDGE_PROXY.
	UseProxy bool `yaml:"use_proxy"`
	// ConnectTimeout bounds starting the server and the MCP handshake
	// (default 30s).
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// Timeout bounds one call to the server (default 5m).
	Timeout time.Duration `yaml:"timeout"`

	// vars are the values Resolve put in place of the ${NAME} references
	// of URL and Headers: secrets wherever they ended up.
	vars []string
}

// serverName is the form of a server's name: no "__" (the separator of
// tool names), nothing a URI or a metric label would need to escape.
var serverName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// varRef is a ${NAME} reference in env, url and headers values.
var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Resolve replaces the ${NAME} references of URLs, headers and env
// values with environ's values and checks every server, reporting every
// problem at once. A reference to an unset or empty variable is an
// error: a credential silently missing would fail later and obscurely.
// Messages name the server and the field, never a value.
func (c *Config) Resolve(environ map[string]string) error {
	var errs []error
	seen := map[string]bool{}
	for i := range c.Servers {
		s := &c.Servers[i]
		where := fmt.Sprintf("mcp.servers[%d] (%s)", i, s.Name)
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("%s: name listed twice", where))
		}
		seen[s.Name] = true
		errs = append(errs, s.resolve(where, environ))
	}
	for i, o := range c.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("mcp.allowed_origins[%d]: %q is not an origin (https://host[:port])", i, o))
		}
	}
	if c.SessionTimeout < 0 {
		errs = append(errs, errors.New("mcp.session_timeout: must not be negative"))
	}
	return errors.Join(errs...)
}

func (s *ServerConfig) resolve(where string, environ map[string]string) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(where+": "+format, a...)) }
	if len(s.Name) > 32 || !serverName.MatchString(s.Name) {
		bad("name: want 1 to 32 lower-case letters, digits and single hyphens (it prefixes the tools: <name>__<tool>)")
	}
	switch {
	case len(s.Command) > 0 && s.URL != "":
		bad("set command (a stdio server) or url (a Streamable HTTP server), not both")
	case len(s.Command) == 0 && s.URL == "":
		bad("set command (a stdio server) or url (a Streamable HTTP server)")
	case len(s.Command) > 0:
		if s.Command[0] == "" {
			bad("command: the program is empty")
		}
		if len(s.Headers) > 0 || s.UseProxy {
			bad("headers and use_proxy are for url servers")
		}
	default:
		if len(s.Env) > 0 || s.Dir != "" {
			bad("env and dir are for command servers")
		}
	}
	if s.ConnectTimeout < 0 || s.Timeout < 0 {
		bad("connect_timeout and timeout must not be negative")
	}
	expand := func(field, v string) string {
		out, vals, err := expandVars(v, environ)
		if err != nil {
			bad("%s: %v", field, err)
		}
		if field != "env" && !strings.HasPrefix(field, "env.") {
			s.vars = append(s.vars, vals...)
		}
		return out
	}
	if s.URL != "" {
		s.URL = expand("url", s.URL)
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("url: want an http:// or https:// URL")
		}
	}
	for k, v := range s.Headers {
		s.Headers[k] = expand("headers."+k, v)
		if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(s.Headers[k]) {
			bad("headers.%s: not a valid HTTP header", k)
		}
	}
	for k, v := range s.Env {
		s.Env[k] = expand("env."+k, v)
		if k == "" || strings.ContainsAny(k, "=\x00") {
			bad("env: %q is not a variable name", k)
		}
	}
	return errors.Join(errs...)
}

// expandVars replaces ${NAME} in v with environ[NAME]; vals are the
// values put in.
func expandVars(v string, environ map[string]string) (out string, vals []string, err error) {
	var missing []string
	out = varRef.ReplaceAllStringFunc(v, func(m string) string {
		name := m[2 : len(m)-1]
		val := environ[name]
		if val == "" {
			missing = append(missing, name)
		}
		vals = append(vals, val)
		return val
	})
	if len(missing) > 0 {
		return "", nil, fmt.Errorf("${%s} is not set", strings.Join(missing, "}, ${"))
	}
	return out, vals, nil
}

// secrets are the values of s that must never reach a client or a log:
// its headers' values and env values (and any part of them after a
// scheme word, such as the token of "Bearer <token>"), the values of
// ${NAME} references in its url and headers, and its URL's password and
// query values.
func (s *ServerConfig) secrets() []string {
	var out []string
	add := func(v string) {
		if len(v) >= 4 {
			out = append(out, v)
		}
		if _, tok, ok := strings.Cut(v, " "); ok && len(tok) >= 4 {
			out = append(out, tok)
		}
	}
	for _, v := range s.Headers {
		add(v)
	}
	for _, v := range s.Env {
		add(v)
	}
	for _, v := range s.vars {
		add(v)
		if e := url.QueryEscape(v); e != v {
			add(e)
		}
	}
	if u, err := url.Parse(s.URL); err == nil {
		if u.User != nil {
			if p, ok := u.User.Password(); ok {
				add(p)
			}
		}
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
			}
		}
	}
	return out
}

// baseEnv is what a stdio server gets of the bridge's environment.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "USER", "LANG", "TZ", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// header is s's headers as an http.Header.
func (s *ServerConfig) header() http.Header {
	h := http.Header{}
	for k, v := range s.Headers {
		h.Set(k, v)
	}
	return h
}
