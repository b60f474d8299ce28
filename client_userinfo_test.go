package llmbridge_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
)

// TestBaseURLUserinfoIsBasicAuth: a provider reached through a base URL
// with user:password@ (a corporate relay) gets them as Basic
// authorization, as http.Client would send them, unless the provider set
// Authorization itself (an API key); a redirect is never followed.
func TestBaseURLUserinfoIsBasicAuth(t *testing.T) {
	got := make(chan string, 4)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`))
	}))
	defer up.Close()
	base := strings.Replace(up.URL, "http://", "http://relay-user:relay-pass@", 1) + "/v1"
	for _, c := range []struct{ key, want string }{
		{"", "Basic cmVsYXktdXNlcjpyZWxheS1wYXNz"},
		{"sk-own", "Bearer sk-own"},
	} {
		b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "relay", BaseURL: base, APIKey: c.key, Models: []string{"m"}})))
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(`{"model":"relay/m","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		b.ServeHTTP(rec, req)
		b.Close()
		if rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if a := <-got; a != c.want {
			t.Errorf("key %q: upstream got Authorization %q, want %q", c.key, a, c.want)
		}
	}
}
