package metrics

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// Guard serves h only to callers allowed to read metrics. With a token,
// a request must carry "Authorization: Bearer <token>" (compared in
// constant time) and is refused with 401 otherwise, from any address.
// Without a token only loopback clients (127.0.0.0/8, ::1) are served;
// others get 403. A reverse proxy on the same host looks like a loopback
// client: set a token when one is in front of the bridge.
func Guard(h http.Handler, token string) http.Handler {
	var digest *[32]byte
	if token != "" {
		d := sha256.Sum256([]byte(token))
		digest = &d
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch {
		case digest != nil && !bearerMatches(r, digest):
			w.Header().Set("WWW-Authenticate", `Bearer realm="llmbridge-metrics"`)
			http.Error(w, "metrics need the metrics token (LLMBRIDGE_METRICS_TOKEN) as a Bearer token", http.StatusUnauthorized)
		case digest == nil && !isLoopback(r.RemoteAddr):
			http.Error(w, "metrics are served to loopback clients only: set LLMBRIDGE_METRICS_TOKEN to scrape from elsewhere", http.StatusForbidden)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

func bearerMatches(r *http.Request, digest *[32]byte) bool {
	h := r.Header.Get("Authorization")
	if len(h) <= 7 || !strings.EqualFold(h[:7], "bearer ") {
		return false
	}
	d := sha256.Sum256([]byte(strings.TrimSpace(h[7:])))
	return subtle.ConstantTimeCompare(d[:], digest[:]) == 1
}

// isLoopback reports whether a request's RemoteAddr is a loopback address.
func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
