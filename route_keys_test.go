package llmbridge

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// keyCounter is a fake OpenAI upstream that answers 500 for the model
// "broken" and a chat completion for any other, counting per model the
// bearer key each request carried.
type keyCounter struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]map[string]int // model → key → requests
}

func newKeyCounter(t *testing.T) *keyCounter {
	kc := &keyCounter{seen: map[string]map[string]int{}}
	kc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Model string `json:"model"`
		}
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &body)
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		kc.mu.Lock()
		if kc.seen[body.Model] == nil {
			kc.seen[body.Model] = map[string]int{}
		}
		kc.seen[body.Model][key]++
		kc.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if body.Model == "broken" {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":{"message":"boom","type":"server_error"}}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"`+body.Model+`",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	t.Cleanup(kc.Close)
	return kc
}

// count returns the requests for model made with key.
func (kc *keyCounter) count(model, key string) int {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	return kc.seen[model][key]
}

// TestRouteKeysSpreadOverFallback: the keys of a provider are one pool,
// whatever route or fallback reaches them. A route whose primary always
// fails with 500 falls back to openai/ok; the fallback's requests must be
// split between openai's two keys (±10 % over 100), whether the primary is
// another provider or another model of openai itself, and direct calls
// still alternate.
func TestRouteKeysSpreadOverFallback(t *testing.T) {
	for _, primary := range []string{"bad/broken", "openai/broken"} {
		t.Run(strings.ReplaceAll(primary, "/", "_"), func(t *testing.T) {
			oa, bad := newKeyCounter(t), newKeyCounter(t)
			keys := []string{"sk-key-a-000000000", "sk-key-b-000000000"}
			b, err := New(
				WithProvider(OpenAICompatible(ProviderConfig{Name: "openai", BaseURL: oa.URL + "/v1", APIKeys: keys, Models: []string{"ok", "broken"}})),
				WithProvider(OpenAICompatible(ProviderConfig{Name: "bad", BaseURL: bad.URL + "/v1", APIKey: "sk-bad-0000000000", Models: []string{"broken"}})),
				WithRoute(Route{Name: "r", Strategy: StrategyOrdered, Targets: []RouteTarget{{Model: primary}}, Fallbacks: []string{"openai/ok"}}),
				WithRetry(RetryPolicy{Max: 0}))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			b.clock = &fakeClock{now: time.Unix(1_800_000_000, 0)}
			const n = 100
			for i := range n {
				if rec := post(b, `{"model":"r","messages":[{"role":"user","content":"hi"}]}`); rec.Code != 200 {
					t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
				}
			}
			for _, k := range keys {
				if got := oa.count("ok", k); got < 40 || got > 60 {
					t.Errorf("the fallback got %d of %d requests with key %s, want 50 ± 10", got, n, KeyID(k))
				}
			}
			before := [2]int{oa.count("ok", keys[0]), oa.count("ok", keys[1])}
			for range 10 {
				if rec := post(b, `{"model":"openai/ok","messages":[{"role":"user","content":"hi"}]}`); rec.Code != 200 {
					t.Fatalf("direct call: %d %s", rec.Code, rec.Body)
				}
			}
			for i, k := range keys {
				if got := oa.count("ok", k) - before[i]; got != 5 {
					t.Errorf("direct calls: key %s got %d of 10, want 5", KeyID(k), got)
				}
			}
		})
	}
}
