package ui

import (
	"errors"
	"net/http"
	"time"

	"github.com/llmbridge/llmbridge/internal/admin"
)

// SignOn is single sign-on with an identity provider (internal/sso's
// Client): the UI serves its three steps under /admin/oidc/.
type SignOn interface {
	// Name labels the sign-in button ("Sign in with <Name>").
	Name() string
	// Start redirects the browser to the identity provider, to come back
	// to the callback and then open next (a checked UI page). On an error
	// nothing was written.
	Start(w http.ResponseWriter, r *http.Request, next string) error
	// Finish completes the sign-in at the callback and returns who signed
	// in and the page to open. Its error is shown on the sign-in page.
	Finish(w http.ResponseWriter, r *http.Request) (p admin.Principal, next string, err error)
}

// SetSignOn turns single sign-on on (nil: off): the sign-in page offers
// "Sign in with <Name>" beside the admin-key field.
func (h *Handler) SetSignOn(s SignOn) {
	h.mu.Lock()
	h.signOn = s
	h.mu.Unlock()
}

// The single sign-on paths. The identity provider sends the browser back
// to CallbackPath in a cross-site navigation, where the SameSite=Strict
// session cookie would neither be sent nor count as set for the redirect
// that follows; so the callback hands the new session over in a
// short-lived SameSite=Lax cookie to a page of the bridge's own, which
// moves on to completePath by itself (meta refresh: no script, so the
// Content-Security-Policy holds) — a same-site step that sets the
// Strict session cookie.
const (
	loginPath    = "/admin/oidc/login"
	callbackPath = "/admin/oidc/callback"
	completePath = "/admin/oidc/complete"
	handoffName  = "llmbridge_handoff"
	handoffTTL   = time.Minute
)

// handoff is what the handoff cookie holds: the sealed session and the
// page to open.
type handoff struct {
	Session string `json:"s"`
	Next    string `json:"n"`
}

func (h *Handler) serveOIDC(w http.ResponseWriter, r *http.Request) {
	h.mu.RLock()
	so := h.signOn
	h.mu.RUnlock()
	if so == nil {
		http.Error(w, "single sign-on is off: set LLMBRIDGE_OIDC_ISSUER to turn it on", http.StatusNotFound)
		return
	}
	if !safeMethod(r.Method) {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	switch r.URL.Path {
	case loginPath:
		if err := so.Start(w, r, validNext(r.URL.Query().Get("next"))); err != nil {
			h.render(w, http.StatusBadGateway, "signin", h.signInData("/admin/", "Single sign-on is unavailable: the identity provider could not be reached. Try again, or sign in with the admin key."))
		}
	case callbackPath:
		h.serveCallback(w, r, so)
	case completePath:
		h.serveComplete(w, r)
	default:
		h.render(w, http.StatusNotFound, "notfound", &pageData{Title: "Not found"})
	}
}

// serveCallback completes the sign-in at the identity provider's
// redirect and hands the session over (see the paths' comment).
func (h *Handler) serveCallback(w http.ResponseWriter, r *http.Request, so SignOn) {
	p, next, err := so.Finish(w, r)
	if err != nil {
		if h.opts.SignInFailed != nil {
			h.opts.SignInFailed(r)
		}
		msg, status := "Single sign-on failed: "+err.Error()+".", http.StatusBadRequest
		if isRefusal(err) {
			msg, status = "Sign-in refused: "+err.Error()+".", http.StatusForbidden
		}
		h.render(w, status, "signin", h.signInData("/admin/", msg))
		return
	}
	value, _ := h.sessions.create(p)
	sealed, err := h.sessions.seal(handoff{Session: value, Next: validNext(next)}, handoffName)
	if value == "" || err != nil {
		h.render(w, http.StatusServiceUnavailable, "signin", h.signInData("/admin/", "The admin UI is off."))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: handoffName, Value: sealed, Path: completePath, MaxAge: int(handoffTTL / time.Second),
		HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteLaxMode})
	h.opts.Logger.Info("admin UI sign-in", "remote", r.RemoteAddr, "via", "sso", "role", p.Role)
	if h.opts.SignedIn != nil {
		h.opts.SignedIn(r, p.Actor())
	}
	h.render(w, http.StatusOK, "handoff", &pageData{Title: "Signing in", Refresh: completePath})
}

// serveComplete is the same-site step: the handoff cookie becomes the
// Strict session cookie. A cross-site request to it is refused, so
// another site cannot complete a sign-in in this browser.
func (h *Handler) serveComplete(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: handoffName, Value: "", Path: completePath, MaxAge: -1, HttpOnly: true,
		Secure: h.secure(r), SameSite: http.SameSiteLaxMode})
	var hf handoff
	c, err := r.Cookie(handoffName)
	if !sameOrigin(r) || err != nil || h.sessions.unseal(c.Value, handoffName, &hf) != nil {
		h.render(w, http.StatusBadRequest, "signin", h.signInData("/admin/", "That sign-in could not be completed: start it again."))
		return
	}
	se, ok := h.sessions.open(hf.Session)
	if !ok {
		h.render(w, http.StatusBadRequest, "signin", h.signInData("/admin/", "That sign-in expired: start it again."))
		return
	}
	expires := time.UnixMilli(se.Expires)
	http.SetCookie(w, sessionCookie(h.secure(r), hf.Session, expires, expires.Sub(h.opts.Now())))
	next := validNext(hf.Next)
	if !allowedPage(se.Principal.Role, pageName(next)) {
		next = "/admin/keys"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// isRefusal reports whether err is about who signed in (a *Refusal of
// internal/sso: shown as 403) rather than a broken flow.
func isRefusal(err error) bool {
	var r interface{ Refused() bool }
	return errors.As(err, &r) && r.Refused()
}

// signInData is the sign-in page's data, with the single sign-on button
// when it is on.
func (h *Handler) signInData(next, msg string) *pageData {
	d := &pageData{Title: "Sign in", Next: next, Error: msg}
	h.mu.RLock()
	if h.signOn != nil {
		d.SSOName = h.signOn.Name()
	}
	h.mu.RUnlock()
	return d
}

// allowedPage reports whether role may open page: a member only Keys.
func allowedPage(role admin.Role, page string) bool {
	return role != admin.RoleMember || page == "keys"
}

// pageName is the page a checked next path opens.
func pageName(next string) string {
	name, _ := pageOf(next)
	return name
}
