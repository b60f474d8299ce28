package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/cache/memory"
)

func TestCacheEndpoint(t *testing.T) {
	c, err := memory.New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	put := func(model, scope string) {
		k := llmbridge.CacheKey{Model: model, Scope: scope, Hash: model + "|" + scope}
		if err := c.Set(ctx, k, []byte(`{"answer":1}`), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	put("openai/gpt-4o", "key-a")
	put("openai/gpt-4o", "key-b")
	put("smart", "key-a")
	a := NewAPI(nil, "admin-secret").SetCache(c).SetHealth(HealthFunc(func() []llmbridge.TargetHealth { return nil }))
	do := func(method, url string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, url, nil)
		req.Header.Set("Authorization", "Bearer admin-secret")
		a.ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	if code, st := do(http.MethodGet, "/admin/api/cache"); code != 200 || st["entries"] != 3.0 || st["backend"] != "memory" {
		t.Fatalf("stats: %d %v", code, st)
	}
	if code, out := do(http.MethodDelete, "/admin/api/cache?model=openai/gpt-4o&key=key-a"); code != 200 || out["deleted"] != 1.0 {
		t.Errorf("delete one: %d %v", code, out)
	}
	if code, _ := do(http.MethodDelete, "/admin/api/cache?bogus=1"); code != 400 {
		t.Errorf("unknown parameter: %d", code)
	}
	if code, _ := do(http.MethodPost, "/admin/api/cache"); code != 405 {
		t.Errorf("POST: %d", code)
	}
	if code, page := do(http.MethodGet, "/admin/api/health"); code != 200 || page["cache"].(map[string]any)["entries"] != 2.0 {
		t.Errorf("health: %d %v", code, page)
	}
	if code, out := do(http.MethodDelete, "/admin/api/cache"); code != 200 || out["deleted"] != 2.0 {
		t.Errorf("delete all: %d %v", code, out)
	}
	if code, _ := do(http.MethodGet, "/admin/api/cache"); code != 200 {
		t.Errorf("after: %d", code)
	}
	if code, _ := func() (int, any) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/admin/api/cache", nil)
		req.Header.Set("Authorization", "Bearer admin-secret")
		NewAPI(nil, "admin-secret").ServeHTTP(rec, req)
		return rec.Code, nil
	}(); code != 404 {
		t.Errorf("cache off: %d", code)
	}
}
