package metrics

import (
	"net"
	"net/http"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/secret"
)

// refusedLoopback is the answer to a caller without a token that is not
// a loopback client naming a loopback host. One text for both cases: a
// rebinding page learns nothing from which rule refused it.
const refusedLoopback = "metrics are served without a token only to loopback clients that name a loopback host " +
	"(127.0.0.1, [::1] or localhost): set LLMBRIDGE_METRICS_TOKEN to scrape under another name or from elsewhere"

// Guard serves h only to callers allowed to read metrics. With a token,
// a request must carry "Authorization: Bearer <token>" (compared in
// constant time) and is refused with 401 otherwise, from any address and
// under any Host. Without a token only loopback clients (127.0.0.0/8,
// ::1) whose Host header names a loopback host (LoopbackHost) are served;
// others get 403. The Host rule is what stops DNS rebinding: a page on
// evil.example whose name re-resolves to 127.0.0.1 makes the browser a
// loopback client, but its requests still say "Host: evil.example". A
// reverse proxy on the same host looks like a loopback client: set a
// token when one is in front of the bridge.
func Guard(h http.Handler, token string) http.Handler {
	var digest *secret.Digest
	if token != "" {
		d := secret.Sum(token)
		digest = &d
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch {
		case digest != nil && !digest.Matches(secret.Bearer(r.Header)): // Bearer only, not x-api-key
			w.Header().Set("WWW-Authenticate", `Bearer realm="llmbridge-metrics"`)
			http.Error(w, "metrics need the metrics token (LLMBRIDGE_METRICS_TOKEN) as a Bearer token", http.StatusUnauthorized)
		case digest == nil && (!isLoopback(r.RemoteAddr) || !LoopbackHost(r.Host)):
			http.Error(w, refusedLoopback, http.StatusForbidden)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// GuardHost serves h to any caller, except that a request that arrived
// on a loopback address (the connection's local address, as the server
// records it in http.LocalAddrContextKey) must name a loopback host, as
// Guard's loopback rule asks, and gets Guard's 403 otherwise. It is for
// a metrics listener of its own without a token: one the operator opened
// on a network address stays open to that network, and one on loopback
// cannot be read by a web page through DNS rebinding.
func GuardHost(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok && isLoopback(a.String()) && !LoopbackHost(r.Host) {
			http.Error(w, refusedLoopback, http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// LoopbackHost reports whether host names this machine in a way no DNS
// answer can change (llmbridge.LoopbackHost).
func LoopbackHost(host string) bool { return llmbridge.LoopbackHost(host) }

// isLoopback reports whether a request's RemoteAddr is a loopback address.
func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
