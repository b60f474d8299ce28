package mcpgw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// dial starts or connects to u's server and does the MCP handshake.
func (g *Gateway) dial(ctx context.Context, u *upstream) (*mcp.ClientSession, error) {
	ctx, cancel := context.WithTimeout(ctx, u.cfg.connectTimeout())
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "llmbridge", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(ctx context.Context, req *mcp.ProgressNotificationClientRequest) {
			g.relayProgress(ctx, u, req.Params)
		},
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { u.forgetTools() },
		KeepAlive:              g.opts.KeepAlive,
	})
	var t mcp.Transport
	if len(u.cfg.Command) > 0 {
		cmd := exec.Command(u.cfg.Command[0], u.cfg.Command[1:]...)
		cmd.Env = baseEnv()
		for k, v := range u.cfg.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Dir = u.cfg.Dir
		cmd.Stderr = &stderrLog{log: u.log, redact: u.redact}
		t = &mcp.CommandTransport{Command: cmd, TerminateDuration: g.opts.TerminateDuration}
	} else {
		t = &mcp.StreamableClientTransport{Endpoint: u.cfg.URL, HTTPClient: g.httpClient(u), MaxRetries: 2}
	}
	cs, err := client.Connect(ctx, t, nil)
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	return cs, nil
}

func (s *ServerConfig) connectTimeout() time.Duration {
	if s.ConnectTimeout > 0 {
		return s.ConnectTimeout
	}
	return 30 * time.Second
}

func (s *ServerConfig) callTimeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 5 * time.Minute
}

// httpClient is the client of an HTTP server: its own transport (so one
// server's slow connections do not hold another's), the configured
// headers on every request, and no redirects — a redirect would carry
// the credential headers to wherever the server points.
func (g *Gateway) httpClient(u *upstream) *http.Client {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: u.cfg.connectTimeout(), KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   u.cfg.connectTimeout(),
		ResponseHeaderTimeout: u.cfg.callTimeout(),
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if p, err := url.Parse(g.opts.ProxyURL); err == nil && u.cfg.UseProxy && g.opts.ProxyURL != "" {
		tr.Proxy = http.ProxyURL(p)
	}
	return &http.Client{
		Transport: &headerTransport{base: tr, header: u.cfg.header()},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// headerTransport adds the server's configured headers to every request.
type headerTransport struct {
	base   http.RoundTripper
	header http.Header
}

// RoundTrip implements http.RoundTripper.
func (t *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.header {
		r.Header[k] = v
	}
	return t.base.RoundTrip(r)
}

// stderrLog logs what a stdio server writes to stderr, a line at a
// time at debug level, bounded and with the server's secrets removed.
type stderrLog struct {
	log    *slog.Logger
	redact *redactor
}

func (w *stderrLog) Write(p []byte) (int, error) {
	for line := range strings.Lines(string(p)) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		if len(line) > 2000 {
			line = line[:2000] + "…"
		}
		w.log.Debug("MCP server stderr", "line", w.redact.String(line))
	}
	return len(p), nil
}

var _ io.Writer = (*stderrLog)(nil)

// redactor removes a server's secrets from text bound for a client or a
// log.
type redactor struct{ r *strings.Replacer }

func newRedactor(secrets []string) *redactor {
	if len(secrets) == 0 {
		return &redactor{}
	}
	var pairs []string
	for _, s := range secrets {
		pairs = append(pairs, s, "[redacted]")
	}
	return &redactor{strings.NewReplacer(pairs...)}
}

// err is err's text for a log or a health report: without the URL a
// *url.Error adds ("Post \"https://…?token=…\": …": a server's URL may
// carry a credential in its path or query) and without the secrets.
func (r *redactor) err(err error) string {
	text := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		text = strings.ReplaceAll(text, ue.Error(), ue.Op+": "+ue.Err.Error())
		if ue.URL != "" {
			text = strings.ReplaceAll(text, ue.URL, "[url]")
		}
	}
	return r.String(text)
}

// String returns s without the secrets.
func (r *redactor) String(s string) string {
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}
