package ui

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"

	"github.com/llmbridge/llmbridge/internal/admin"
)

// FirstRunPath is the one-time sign-in link's path; its token is the
// query's "token".
const FirstRunPath = "/admin/first-run"

// FirstRun arms a one-time sign-in link and returns its path and query
// (FirstRunPath?token=…), for the server to log on a first run (loopback,
// no admin key): the first browser that opens it is signed in, and from
// then on the link is refused. Calling it again replaces the link.
func (h *Handler) FirstRun() string {
	tok := token()
	sum := sha256.Sum256([]byte(tok))
	h.mu.Lock()
	h.firstRun = &sum
	h.mu.Unlock()
	return FirstRunPath + "?" + url.Values{"token": {tok}}.Encode()
}

// serveFirstRun signs a browser in with the one-time link, once.
func (h *Handler) serveFirstRun(w http.ResponseWriter, r *http.Request) {
	if !safeMethod(r.Method) {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	got := sha256.Sum256([]byte(r.URL.Query().Get("token")))
	h.mu.Lock()
	ok := h.firstRun != nil && subtle.ConstantTimeCompare(got[:], h.firstRun[:]) == 1
	if ok {
		h.firstRun = nil // once
	}
	h.mu.Unlock()
	if !ok {
		h.opts.Logger.Warn("admin UI one-time sign-in link refused (used already, or a wrong token)", "remote", r.RemoteAddr)
		if h.opts.SignInFailed != nil {
			h.opts.SignInFailed(r)
		}
		h.render(w, http.StatusForbidden, "signin", &pageData{Title: "Sign in", Next: "/admin/",
			Error: "This one-time sign-in link was used already (or is not valid). Set LLMBRIDGE_ADMIN_KEY and sign in with it, or restart the server for a new link."})
		return
	}
	value, expires := h.sessions.create(admin.Principal{Role: admin.RoleAdmin, Via: "first-run link"})
	http.SetCookie(w, sessionCookie(h.secure(r), value, expires, h.opts.SessionTTL))
	h.opts.Logger.Info("admin UI sign-in with the one-time link", "remote", r.RemoteAddr)
	if h.opts.SignedIn != nil {
		h.opts.SignedIn(r, "first-run link")
	}
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
}
