package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
)

func TestHealthEndpoint(t *testing.T) {
	src := HealthFunc(func() []llmbridge.TargetHealth {
		return []llmbridge.TargetHealth{{Provider: "openai", Model: "gpt-4o", Key: "key-1a2b3c4d", State: llmbridge.StateOpen, KeyState: "ok",
			ConsecutiveFailures: 5, Ejections: 1, LastError: "HTTP 503", Requests1m: 10, ErrorRate1m: 0.5, P50: 120 * time.Millisecond}}
	})
	a := NewAPI(nil, "admin-secret").SetHealth(src)
	get := func(key string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/admin/api/health", nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		a.ServeHTTP(rec, req)
		return rec
	}
	if rec := get(""); rec.Code != http.StatusUnauthorized {
		t.Errorf("without the admin key: %d", rec.Code)
	}
	if rec := get("an-access-key"); rec.Code != http.StatusUnauthorized {
		t.Errorf("with another key: %d", rec.Code)
	}
	rec := get("admin-secret")
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var page struct {
		Targets []map[string]any `json:"targets"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Targets) != 1 {
		t.Fatalf("%v %s", err, rec.Body)
	}
	tg := page.Targets[0]
	if tg["state"] != "open" || tg["consecutive_failures"] != 5.0 || tg["last_error"] != "HTTP 503" || tg["p50_ns"] != 120e6 || tg["error_rate_1m"] != 0.5 {
		t.Errorf("target %v", tg)
	}
	if off := NewAPI(nil, "admin-secret"); true {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/admin/api/health", nil)
		req.Header.Set("Authorization", "Bearer admin-secret")
		off.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "health_off") {
			t.Errorf("without a source: %d %s", rec.Code, rec.Body)
		}
	}
}

// limitsSource is a HealthSource that also reports the limits' state.
type limitsSource struct {
	HealthFunc
	mode, reason string
}

func (l limitsSource) Limits() (string, string) { return l.mode, l.reason }

// TestHealthShowsTheLimitsWholeReason: the admin health page shows where
// the limits are kept with Redis's whole error (the unauthenticated
// /healthz says only "unreachable"), and nothing when they are off.
func TestHealthShowsTheLimitsWholeReason(t *testing.T) {
	targets := HealthFunc(func() []llmbridge.TargetHealth { return nil })
	for _, tc := range []struct {
		src  HealthSource
		want string
	}{
		{limitsSource{targets, "per-instance", "Redis unreachable: dial tcp 10.0.0.9:6379: connect: connection refused"},
			`"limits":{"mode":"per-instance","reason":"Redis unreachable: dial tcp 10.0.0.9:6379: connect: connection refused"}`},
		{limitsSource{targets, "redis", ""}, `"limits":{"mode":"redis"}`},
		{limitsSource{targets, "", ""}, ""},
		{targets, ""},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/admin/api/health", nil)
		req.Header.Set("Authorization", "Bearer admin-secret")
		NewAPI(nil, "admin-secret").SetHealth(tc.src).ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != 200 || tc.want != "" && !strings.Contains(body, tc.want) || tc.want == "" && strings.Contains(body, `"limits"`) {
			t.Errorf("%d %s, want %s", rec.Code, body, tc.want)
		}
	}
}
