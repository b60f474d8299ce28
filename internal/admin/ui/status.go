package ui

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pageData is what the templates see.
type pageData struct {
	Title string
	Page  string // the current page's name; "" on sign-in and not-found
	Nav   []navItem
	CSRF  string

	Next    string // sign-in: the page to open afterwards; handoff: the next step
	Error   string // sign-in: why the last attempt failed
	SSOName string // sign-in: the single sign-on button's name; "" without one
	Refresh string // where the page moves on to by itself (the sign-on handoff)

	Role string // the signed-in role (body's data-role: CSS hides what it may not do)
	Who  string // who signed in, beside Sign out

	Status    *statusView    // status page
	Providers []providerView // providers page
}

type navItem struct {
	Name, Title, Href string
	Current           bool
}

type statusView struct {
	Version, GoVersion, Started, Uptime, Store, RequestLogDropped string
	Config                                                        []Setting
}

// Setting is one configuration variable as the Status page shows it.
type Setting struct{ Name, Value string }

type providerView struct {
	Name   string
	Models []string
	Proxy  string // the proxy's host when this provider uses it
}

var funcs = template.FuncMap{"join": strings.Join}

func (h *Handler) data(r *http.Request, page string, se session) *pageData {
	d := &pageData{Title: pageTitles[page], Page: page, CSRF: se.csrf, Role: string(se.Principal.Role), Who: se.Principal.Email}
	if page == "" {
		d.Title = "Not found"
	}
	for _, n := range pageNames() {
		if !allowedPage(se.Principal.Role, n) {
			continue
		}
		d.Nav = append(d.Nav, navItem{Name: n, Title: pageTitles[n], Href: "/admin/" + n, Current: n == page})
	}
	_, env := h.state()
	switch page {
	case "status":
		d.Status = h.status(env)
	case "providers":
		d.Providers = providers(call(h.opts.Models), env)
	}
	_ = r
	return d
}

func call[T any](f func() T) (v T) {
	if f != nil {
		v = f()
	}
	return v
}

func (h *Handler) status(env map[string]string) *statusView {
	up := h.opts.Now().Sub(h.opts.Started).Round(time.Second)
	v := &statusView{Version: h.opts.Version, GoVersion: runtime.Version(), Started: h.opts.Started.UTC().Format(time.RFC3339),
		Uptime: humanDuration(up), Store: "unknown", RequestLogDropped: "unknown", Config: MaskConfig(env)}
	if v.Version == "" {
		v.Version = buildVersion()
	}
	if h.opts.Store != nil {
		v.Store = h.opts.Store()
	}
	if h.opts.RequestLogDropped != nil {
		v.RequestLogDropped = strconv.FormatInt(h.opts.RequestLogDropped(), 10)
	}
	return v
}

// buildVersion is the module version and VCS revision the binary was
// built from.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v += " " + s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			if s.Value == "true" {
				v += " (modified)"
			}
		}
	}
	if v == "" {
		return "(devel)"
	}
	return v
}

// configPrefixes select the variables the Status page summarizes.
var configPrefixes = []string{"LLMBRIDGE_", "ACCESS_API_KEYS", "OPENAI_", "GOOGLE_", "GEMINI_", "DEEPSEEK_", "ANTHROPIC_"}

// secretName reports whether a variable holds a secret by its name.
func secretName(name string) bool {
	for _, s := range []string{"KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// Masked replaces a secret's value on the Status page.
const Masked = "•••• (set)"

// MaskConfig returns the bridge's variables in env, sorted by name, with
// every secret masked: values of variables named like a key, token,
// secret or password become Masked; URLs lose their password and
// key-like query values; and any value that contains one of those
// secrets is masked whole.
func MaskConfig(env map[string]string) []Setting {
	var secrets []string
	for k, v := range env {
		if secretName(k) && v != "" {
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); len(s) >= 4 {
					secrets = append(secrets, s)
				}
			}
		}
	}
	var out []Setting
	for k, v := range env {
		if !slices.ContainsFunc(configPrefixes, func(p string) bool { return strings.HasPrefix(k, p) }) {
			continue
		}
		switch {
		case v == "":
		case secretName(k):
			v = Masked
		default:
			v = maskURL(v)
			if slices.ContainsFunc(secrets, func(s string) bool { return strings.Contains(v, s) }) {
				v = Masked
			}
		}
		out = append(out, Setting{Name: k, Value: v})
	}
	slices.SortFunc(out, func(a, b Setting) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// maskURL hides a URL's password and key-like query values; other
// values pass unchanged.
func maskURL(v string) string {
	if !strings.Contains(v, "://") {
		return v
	}
	u, err := url.Parse(v)
	if err != nil {
		return Masked // cannot tell where a password would be
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	for k := range q {
		if secretName(strings.ToUpper(k)) || strings.EqualFold(k, "sslpassword") {
			q.Set(k, "xxxxx")
		}
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// providers groups model ids by provider, with the proxy host of those
// that use LLMBRIDGE_PROXY (<NAME>_USE_PROXY; Gemini's default is on).
func providers(models []string, env map[string]string) []providerView {
	byName := map[string]*providerView{}
	var order []string
	for _, id := range models {
		p, m, ok := strings.Cut(id, "/")
		if !ok {
			continue
		}
		if byName[p] == nil {
			byName[p] = &providerView{Name: p}
			order = append(order, p)
		}
		byName[p].Models = append(byName[p].Models, m)
	}
	proxy := ""
	if u, err := url.Parse(env["LLMBRIDGE_PROXY"]); err == nil && u.Host != "" {
		proxy = fmt.Sprintf("%s (%s)", u.Hostname(), u.Scheme)
	}
	slices.Sort(order)
	out := make([]providerView, 0, len(order))
	for _, n := range order {
		v := *byName[n]
		use, set := env[strings.ToUpper(n)+"_USE_PROXY"]
		on, _ := strconv.ParseBool(use)
		if proxy != "" && (on || !set && n == "gemini") {
			v.Proxy = proxy
		}
		out = append(out, v)
	}
	return out
}

// humanDuration says how long in days, hours and minutes ("3 d 4 h",
// "2 h 5 min", "40 s"): the two largest units.
func humanDuration(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s < 3600:
		return fmt.Sprintf("%d min %d s", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%d h %d min", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%d d %d h", s/86400, s%86400/3600)
}
