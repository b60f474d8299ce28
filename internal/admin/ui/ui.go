package ui

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/llmbridge/llmbridge/internal/admin"
	"github.com/llmbridge/llmbridge/internal/secret"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// SecurityHeaders are set on every response of the UI. The policy allows
// scripts, styles and images from the bridge itself only: no inline
// script, no inline style, no other host.
var SecurityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
	"X-Content-Type-Options": "nosniff",
}

// DefaultSessionTTL is how long a sign-in lasts when Options.SessionTTL
// is zero.
const DefaultSessionTTL = 12 * time.Hour

// Options are the UI's inputs. The funcs are called on each request to
// the page that shows them and must be safe for concurrent use; a nil
// func shows as "unknown".
type Options struct {
	// Logger receives refused sign-ins (never the key tried). nil:
	// slog.Default().
	Logger *slog.Logger
	// Version is shown on the Status page; "" reads the binary's build
	// information.
	Version string
	// Started is when the server started (uptime on the Status page).
	Started time.Time
	// SessionTTL is how long a sign-in lasts (default DefaultSessionTTL).
	SessionTTL time.Duration
	// Models lists the served models as "provider/model" ids (what GET
	// /v1/models lists), for the Providers page.
	Models func() []string
	// Store describes the usage store (no password), or "off".
	Store func() string
	// RequestLogDropped counts request-log records dropped so far.
	RequestLogDropped func() int64
	// SignInFailed, when set, is told of every sign-in refused for a wrong
	// key (the server counts it against the source, as it counts a 401).
	SignInFailed func(r *http.Request)
	// SignedIn, when set, is told of every sign-in (how: "admin key" or
	// "first-run link"), for the audit log.
	SignedIn func(r *http.Request, how string)
	// Revocations remember signed-out sessions; nil: this process only
	// (a copy of a signed-out cookie still opens on other replicas).
	Revocations Revocations
	// SecureCookies marks every cookie Secure even on plain HTTP: TLS
	// ends at a proxy in front (LLMBRIDGE_PUBLIC_URL is https://). Over
	// TLS they are Secure anyway.
	SecureCookies bool
	// Now replaces time.Now in tests.
	Now func() time.Time
}

// Handler serves the UI under /admin/ (everything but /admin/api/). It
// is safe for concurrent use and outlives configuration reloads:
// Configure swaps the admin key and the configuration shown.
type Handler struct {
	opts     Options
	sessions *sessions
	pages    map[string]*template.Template
	static   http.Handler

	mu       sync.RWMutex
	secret   []byte            // SetSessionSecret's
	signOn   SignOn            // SetSignOn's; nil: no single sign-on
	digest   *secret.Digest    // the admin key's; nil: the UI is off
	env      map[string]string // the configuration, for the Status page
	firstRun *[32]byte         // the one-time link's token's SHA-256 (firstrun.go); nil: none
}

// New returns the UI, off until Configure gives it an admin key.
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Started.IsZero() {
		o.Started = o.Now()
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	sub, _ := fs.Sub(staticFS, "static") // a constant, embedded path
	h := &Handler{opts: o, sessions: newSessions(o.SessionTTL, o.Now, o.Revocations), pages: map[string]*template.Template{},
		static: http.StripPrefix("/admin/static/", http.FileServerFS(sub))}
	for _, p := range append([]string{"signin", "notfound", "handoff"}, pageNames()...) {
		files := []string{"templates/layout.html", "templates/" + p + ".html"}
		h.pages[p] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, files...))
	}
	return h
}

// Configure sets the admin key (empty turns the UI off) and the
// configuration the Status page summarizes (env: the variables as the
// server read them; secrets are masked when shown). A changed admin key
// ends every session and disarms the one-time link (FirstRun).
func (h *Handler) Configure(adminKey string, env map[string]string) {
	var d *secret.Digest
	if adminKey != "" {
		sum := secret.Sum(adminKey)
		d = &sum
	}
	h.mu.Lock()
	changed := (d == nil) != (h.digest == nil) || d != nil && *d != *h.digest
	h.digest, h.env = d, env
	if changed {
		h.firstRun = nil // the link belonged to the first run's key
	}
	h.mu.Unlock()
	if changed {
		h.rekey()
	}
}

// SetSessionSecret sets the secret the session cookies are sealed with,
// beside the admin key: the store's sealing key (LLMBRIDGE_SECRET_KEY or
// its key file), so that a session cookie opens on every replica with
// the same configuration and only there. nil: the admin key alone. It
// ends every session.
func (h *Handler) SetSessionSecret(secret []byte) {
	h.mu.Lock()
	h.secret = secret
	h.mu.Unlock()
	h.rekey()
}

// rekey derives the session keys from the secret and the admin key: a
// changed admin key ends every session, on every replica that has it.
func (h *Handler) rekey() {
	h.mu.RLock()
	d, secret := h.digest, h.secret
	h.mu.RUnlock()
	if d == nil {
		h.sessions.rekey(nil)
		return
	}
	h.sessions.rekey(append(append([]byte{}, secret...), d[:]...))
}

func (h *Handler) state() (*secret.Digest, map[string]string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.digest, h.env
}

// Authorized reports whether r comes from a signed-in browser: a live
// session cookie and, unless r's method is GET, HEAD or OPTIONS, the
// session's CSRF token in the X-CSRF-Token header. It is false while
// the UI is off.
func (h *Handler) Authorized(r *http.Request) bool {
	_, ok := h.authorized(r)
	return ok
}

// Principal is Authorized with who signed in: the admin API
// (admin.API.SetSession) accepts such requests as it accepts the bearer
// admin key, with the principal's role.
func (h *Handler) Principal(r *http.Request) (admin.Principal, bool) {
	se, ok := h.authorized(r)
	return se.Principal, ok
}

// Session is Authorized for a response that lasts, for admins and
// viewers (a member sees only their keys): for an authorized r it
// returns a context derived from r's that is also cancelled when the
// session ends — sign-out (on this replica at once, on another within
// seconds when the revocations are shared), expiry, or a changed admin
// key (Configure). Serving with it, a stream the session opened (the
// live feed) stops with the session instead of outliving it. The caller
// must call cancel when done; ctx and cancel are nil when ok is false.
func (h *Handler) Session(r *http.Request) (ctx context.Context, cancel context.CancelFunc, ok bool) {
	se, ok := h.authorized(r)
	if !ok || se.Principal.Role == admin.RoleMember {
		return nil, nil, false
	}
	ctx, cancel = h.sessions.stream(r.Context(), se)
	return ctx, cancel, true
}

// authorized returns r's session when Authorized would report true.
func (h *Handler) authorized(r *http.Request) (session, bool) {
	if d, _ := h.state(); d == nil {
		return session{}, false
	}
	se, ok := h.sessions.lookup(r)
	if !ok || !safeMethod(r.Method) && !csrfOK(se, r.Header.Get(CSRFHeader)) {
		return session{}, false
	}
	return se, true
}

// ServeHTTP implements http.Handler for /admin and /admin/… except
// /admin/api/….
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range SecurityHeaders {
		w.Header().Set(k, v)
	}
	digest, _ := h.state()
	if digest == nil {
		http.Error(w, "the admin UI is off: set LLMBRIDGE_ADMIN_KEY to turn it on", http.StatusNotFound)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/admin":
		http.Redirect(w, r, "/admin/", http.StatusMovedPermanently)
	case strings.HasPrefix(p, "/admin/static/"):
		if !safeMethod(r.Method) {
			methodNotAllowed(w, "GET, HEAD")
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		h.static.ServeHTTP(w, r)
	case p == FirstRunPath:
		h.serveFirstRun(w, r)
	case p == "/admin/login":
		h.serveSignIn(w, r, digest)
	case p == "/admin/logout":
		h.serveSignOut(w, r)
	case strings.HasPrefix(p, "/admin/oidc/"):
		h.serveOIDC(w, r) // oidc.go
	default:
		h.servePage(w, r)
	}
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	http.Error(w, "method not allowed; use "+allow, http.StatusMethodNotAllowed)
}

// pageNames are the signed-in pages, in navigation order.
func pageNames() []string {
	return []string{"live", "usage", "providers", "prices", "tools", "keys", "teams", "audit", "status"}
}

// pageTitles name the pages in the navigation.
var pageTitles = map[string]string{"live": "Live", "usage": "Usage & cost", "providers": "Providers & routes",
	"prices": "Prices", "tools": "Tools", "keys": "Keys", "teams": "Teams", "audit": "Audit", "status": "Status"}

// pageOf maps a path to its page: /admin/ opens on Live.
func pageOf(path string) (string, bool) {
	name := strings.TrimSuffix(strings.TrimPrefix(path, "/admin/"), "/")
	if name == "" {
		return "live", true
	}
	_, ok := pageTitles[name]
	return name, ok
}

// servePage renders a page, or the sign-in form (200) to a browser that
// is not signed in.
func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	if !safeMethod(r.Method) {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	name, ok := pageOf(r.URL.Path)
	se, signedIn := h.sessions.lookup(r)
	switch {
	case !signedIn:
		next := r.URL.Path
		if !ok {
			next = "/admin/"
		}
		h.render(w, http.StatusOK, "signin", h.signInData(next, ""))
	case ok && !allowedPage(se.Principal.Role, name):
		http.Redirect(w, r, "/admin/keys", http.StatusSeeOther) // a member's one page
	case !ok:
		h.render(w, http.StatusNotFound, "notfound", h.data(r, "", se))
	default:
		h.render(w, http.StatusOK, name, h.data(r, name, se))
	}
}

// serveSignIn answers the sign-in form: the admin key, compared in
// constant time without delay, starts a session; anything else is
// refused and logged (without what was typed), and the browser is sent
// back to the form with the reason (GET /admin/login?failed=1): a 303
// rather than a 401 page, so a mistyped key is no console error and a
// reload does not post the form again.
func (h *Handler) serveSignIn(w http.ResponseWriter, r *http.Request, digest *secret.Digest) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		d := h.signInData(validNext(r.URL.Query().Get("next")), "")
		if r.URL.Query().Get("failed") != "" {
			d.Error = wrongKey
		}
		h.render(w, http.StatusOK, "signin", d)
		return
	}
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "GET, HEAD, POST")
		return
	}
	if !sameOrigin(r) {
		http.Error(w, "cross-origin sign-in refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	key := r.PostFormValue("key")
	next := validNext(r.PostFormValue("next"))
	if !digest.Matches(key) { // the form's field as typed: not trimmed, "" refused
		h.opts.Logger.Warn("admin UI sign-in refused: wrong admin key", "remote", r.RemoteAddr, "user_agent", clipUA(r.UserAgent()))
		if h.opts.SignInFailed != nil {
			h.opts.SignInFailed(r)
		}
		http.Redirect(w, r, "/admin/login?"+url.Values{"failed": {"1"}, "next": {next}}.Encode(), http.StatusSeeOther)
		return
	}
	value, expires := h.sessions.create(admin.Principal{Role: admin.RoleAdmin, Via: "ui session"})
	http.SetCookie(w, sessionCookie(h.secure(r), value, expires, h.opts.SessionTTL))
	h.opts.Logger.Info("admin UI sign-in", "remote", r.RemoteAddr)
	if h.opts.SignedIn != nil {
		h.opts.SignedIn(r, "admin key")
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// wrongKey is the sign-in form's message after a refused key.
const wrongKey = "That is not the admin key (LLMBRIDGE_ADMIN_KEY). Access keys do not open the admin UI."

// validNext returns next when it names a page of the UI, else /admin/.
func validNext(next string) string {
	if _, ok := pageOf(next); !ok || !strings.HasPrefix(next, "/admin/") {
		return "/admin/"
	}
	return next
}

// serveSignOut ends the session (POST with the CSRF token as a form
// field) and shows the sign-in form again.
func (h *Handler) serveSignOut(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	se, ok := h.sessions.lookup(r)
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if ok && !csrfOK(se, r.PostFormValue("csrf")) {
		http.Error(w, "sign-out refused: missing or wrong CSRF token", http.StatusForbidden)
		return
	}
	if err := h.sessions.end(r); err != nil {
		h.opts.Logger.Error("admin UI sign-out: the session could not be revoked in the store", "err", err)
	}
	http.SetCookie(w, sessionCookie(h.secure(r), "", time.Time{}, 0))
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
}

// sameOrigin reports whether a form post came from this site. Browsers
// send Sec-Fetch-Site; with Referrer-Policy: no-referrer Chromium sends
// "Origin: null" on same-origin form posts, so Origin is only a fallback
// for browsers without Fetch Metadata. A request with neither (a script,
// curl) has no cross-site page behind it.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func clipUA(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}

// render writes a page; a template error (a bug) is a plain 500.
func (h *Handler) render(w http.ResponseWriter, status int, name string, d *pageData) {
	var b strings.Builder
	if err := h.pages[name].ExecuteTemplate(&b, "layout.html", d); err != nil {
		h.opts.Logger.Error("admin UI template", "page", name, "err", err)
		http.Error(w, "the admin UI failed to render this page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// secure reports whether the cookies set for r must be Secure.
func (h *Handler) secure(r *http.Request) bool { return r.TLS != nil || h.opts.SecureCookies }
