package openai_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	prov "github.com/llmbridge/llmbridge/internal/provider/openai"
)

// The raw Responses and embeddings requests go to {base}/responses and
// {base}/embeddings with the provider's key, the body unchanged but for
// the model.
func TestRawResponsesAndEmbeddingsRequests(t *testing.T) {
	p := prov.NewResponses(prov.Config{Name: "openai", BaseURL: "https://api.example.com/v1/", APIKey: "sk-provider"})
	const body = `{"model":"openai/gpt-5", "input":[{"type":"reasoning","encrypted_content":"gAAA"}],"store":false,"x":1.50}`
	for _, tc := range []struct {
		name, url, want, accept string
		build                   func() (*http.Request, error)
	}{
		{"responses", "https://api.example.com/v1/responses", `{"model":"gpt-5", "input":[{"type":"reasoning","encrypted_content":"gAAA"}],"store":false,"x":1.50}`, "text/event-stream",
			func() (*http.Request, error) {
				return p.NewRawResponsesRequest(context.Background(), []byte(body), "gpt-5", true)
			}},
		{"embeddings", "https://api.example.com/v1/embeddings", `{"model":"e-3", "input":[{"type":"reasoning","encrypted_content":"gAAA"}],"store":false,"x":1.50}`, "application/json",
			func() (*http.Request, error) {
				return p.NewRawEmbeddingsRequest(context.Background(), []byte(body), "e-3")
			}},
	} {
		req, err := tc.build()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(req.Body)
		if req.Method != http.MethodPost || req.URL.String() != tc.url || string(got) != tc.want ||
			req.Header.Get("Authorization") != "Bearer sk-provider" || req.Header.Get("Accept") != tc.accept {
			t.Errorf("%s: %s %s %s %v", tc.name, req.Method, req.URL, got, req.Header)
		}
	}
}
