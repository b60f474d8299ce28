package llmbridge_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/llmbridge/llmbridge"
)

func TestCORS(t *testing.T) {
	e := newEnv(t, llmbridge.WithCORS("https://chat.example.com"))
	// Preflight: no key needed, the requested headers are allowed.
	resp, _ := e.do(t, http.MethodOptions, "/v1/chat/completions", "", "Origin", "https://chat.example.com",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type, x-stainless-os")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://chat.example.com" ||
		resp.Header.Get("Access-Control-Allow-Headers") != "authorization, content-type, x-stainless-os" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	// The request itself still needs the access key, and carries the headers.
	resp, _ = e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`, "Origin", "https://chat.example.com")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://chat.example.com" || resp.Header.Get("Access-Control-Expose-Headers") == "" {
		t.Fatalf("request: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = e.do(t, http.MethodPost, "/v1/chat/completions", `{}`, "Origin", "https://chat.example.com")
	if resp.StatusCode != 401 {
		t.Errorf("no key: %d", resp.StatusCode)
	}
	// Another origin gets nothing.
	resp, _ = e.do(t, http.MethodOptions, "/v1/chat/completions", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.StatusCode == 204 {
		t.Errorf("foreign origin allowed: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestNoCORSByDefault(t *testing.T) {
	b, err := llmbridge.New()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodOptions, "/v1/models", nil)
	req.Header.Set("Origin", "https://chat.example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	b.ServeHTTP(rec, req)
	if rec.Header().Get("Access-Control-Allow-Origin") != "" || rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("%d %v", rec.Code, rec.Header())
	}
	if _, err := llmbridge.New(llmbridge.WithCORS("chat.example.com")); err == nil {
		t.Error("origin without scheme accepted")
	}
}
