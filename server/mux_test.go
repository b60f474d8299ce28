package main

import (
	"io"
	"net/http"
	"path"
	"strings"
	"testing"
)

// TestRoutes pins where the main listener sends each path: the admin UI,
// the admin API, the live feed and /metrics (through the throttle), the
// probes, and everything else — also a path ServeMux would clean — to the
// Bridge, which marks its answers with X-Request-Id.
func TestRoutes(t *testing.T) {
	addr, _ := startObserved(t, "LLMBRIDGE_ADMIN_KEY="+secAdminKey)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		method, path string
		status       int
		body         string // a part of the body
		bridge       bool   // answered by the Bridge (X-Request-Id)
	}{
		{"GET", "/healthz", 200, `"status":"ok"`, true},
		{"HEAD", "/healthz", 200, "", true},
		{"GET", "/readyz", 200, `"status":"ready"`, false},
		{"POST", "/readyz", 200, `"status":"ready"`, false},
		{"GET", "/admin", 301, "/admin/", false},     // the UI's own redirect
		{"GET", "/admin/api", 200, "Sign in", false}, // the UI too, not a redirect to /admin/api/
		{"GET", "/admin/api/usage", 401, "admin key", false},
		{"GET", "/admin/api/live", 401, "admin key", false},
		{"GET", "/admin/api/live/", 401, "admin key", false},
		{"GET", "/metrics", 200, "llmbridge_", false},
		{"GET", "/metrics/", 200, "llmbridge_", false},
		{"GET", "/metrics/x", 404, "unknown_url", true},
		{"GET", "/v1/models", 200, `"object":"list"`, true},
		{"GET", "/v1//models", 307, "", true},
		{"GET", "/v1/../admin/api/usage", 307, "/admin/api/usage", false}, // cleaned by ServeMux to an admin route, not sent to the Bridge
		{"GET", "/v1/./models", 307, "", true},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) || (resp.Header.Get("X-Request-Id") != "") != tc.bridge {
			t.Errorf("%s %s: %d %q (X-Request-Id %q), want %d %q (Bridge: %v)", tc.method, tc.path, resp.StatusCode, b, resp.Header.Get("X-Request-Id"), tc.status, tc.body, tc.bridge)
		}
	}
}

// TestBridgePath: the paths serveHTTP hands the Bridge without a lookup
// are canonical paths under /v1/, where no route of the server's is.
func TestBridgePath(t *testing.T) {
	for p, want := range map[string]bool{
		"/v1/chat/completions": true, "/v1/messages": true, "/v1/models": true, "/v1/": true,
		"/v1": false, "/v1//models": false, "/v1/./models": false, "/v1/../admin": false, "/v1/x/..": false,
		"/admin/api/usage": false, "/metrics": false, "/healthz": false, "/": false, "": false,
	} {
		if got := bridgePath(p); got != want {
			t.Errorf("bridgePath(%q) = %v", p, got)
		}
		if want && path.Clean(p) != strings.TrimSuffix(p, "/") {
			t.Errorf("%q is not canonical", p)
		}
	}
}
