// Package ui is the bridge's admin web UI under /admin/: a sign-in page,
// and the Live, Usage & cost, Providers & routes, Keys and Status pages.
//
// The pages are server-rendered with html/template and filled in by a
// little plain JavaScript that reads only the admin APIs
// (/admin/api/usage, /admin/api/requests, /admin/api/keys,
// /admin/api/live, /admin/api/health and /healthz) with the session
// cookie, so what the UI shows is what the API gives. Every asset is
// embedded (go:embed): no CDN, no network at run time, no build step.
//
// Signing in — with the admin key, the first-run link, or single sign-on
// (SetSignOn: an OpenID Connect provider, internal/sso) — starts a session:
// an HttpOnly, SameSite=Strict cookie, Secure over TLS, expiring, that
// holds the session itself sealed with AES-256-GCM under a key derived
// from the server's secret and the admin key (SetSessionSecret), so that
// every replica with the same configuration accepts it; a sign-out is
// remembered in Revocations (the store every replica reads). The session
// carries who signed in (admin.Principal: role, email, team);
// Handler.Principal is the check the admin API accepts besides the bearer
// admin key, and it demands the session's CSRF token (the X-CSRF-Token
// header, an HMAC of the session's id) on every state-changing call.
// Handler.Session is that check for a response that lasts (the live
// feed, not for members): its context ends with the session — sign-out,
// expiry, a changed admin key — so no stream outlives it. A member sees
// only the Keys page; a viewer's pages hide their write controls. Every
// response carries a Content-Security-Policy
// without inline scripts, X-Frame-Options: DENY and Referrer-Policy:
// no-referrer.
package ui
