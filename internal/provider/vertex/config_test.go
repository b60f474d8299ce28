package vertex_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/configfile"
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/provider/vertex"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// The host follows the location: global has none in its name.
func TestHosts(t *testing.T) {
	static := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ya29.static"})
	for loc, want := range map[string]string{
		"global":       "https://aiplatform.googleapis.com/v1/projects/p-1/locations/global/publishers/google/models/gemini-2.5-flash:generateContent",
		"europe-west4": "https://europe-west4-aiplatform.googleapis.com/v1/projects/p-1/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent",
	} {
		p := vertex.New(vertex.Config{Config: endpoint.Config{Name: "v"}, Project: "p-1", Location: loc, TokenSource: static})
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		req, err := p.NewRequest(context.Background(), &openai.ChatRequest{Model: "gemini-2.5-flash", Messages: []openai.Message{{Role: "user", Content: openai.TextContent("hi")}}})
		if err != nil || req.URL.String() != want || req.Header.Get("Authorization") != "Bearer ya29.static" {
			t.Errorf("%s: %v %v", loc, req.URL, err)
		}
	}
}

func TestValidate(t *testing.T) {
	err := vertex.New(vertex.Config{Config: endpoint.Config{Name: "v", APIKey: "AIza-key"}, Project: "My Project", Location: "", CredentialsFile: "/nonexistent/sa.json"}).Validate()
	for _, want := range []string{"project", "location", "not an API key", "credentials_file"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	file := filepath.Join(t.TempDir(), "sa.json")
	os.WriteFile(file, []byte(`{"type":"authorized_user","client_secret":"very-secret-value"}`), 0o600)
	err = vertex.New(vertex.Config{Config: endpoint.Config{Name: "v"}, Project: "p", Location: "us-east5", CredentialsFile: file}).Validate()
	if err == nil || !strings.Contains(err.Error(), "not a service-account key file") || strings.Contains(err.Error(), "very-secret-value") {
		t.Errorf("error %v", err)
	}
}

// The token is fetched again once it expires on the provider's clock.
func TestTokenExpiry(t *testing.T) {
	tokens := testupstream.NewGoogleTokens(t)
	up := testupstream.New(t, testupstream.Vertex)
	up.Bearer = tokens.Valid
	file := filepath.Join(t.TempDir(), "sa.json")
	os.WriteFile(file, tokens.ServiceAccountJSON(tokens.Key), 0o600)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := configfile.VertexProvider{Provider: vertex.New(vertex.Config{Config: endpoint.Config{Name: "vertex", BaseURL: up.BaseURL()},
		Project: "test-project", Location: "us-central1", CredentialsFile: file, Now: clock})}
	call := func() {
		t.Helper()
		req, err := p.ForModel("claude-haiku-4-5@20251001").NewRequest(context.Background(), &openai.ChatRequest{Model: "claude-haiku-4-5@20251001", Messages: []openai.Message{{Role: "user", Content: openai.TextContent("hi")}}})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := up.Client().Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp.Status, err)
		}
		if _, err := p.DecodeResponse(resp); err != nil {
			t.Fatal(err)
		}
	}
	call()
	call()
	mu.Lock()
	now = now.Add(59 * time.Minute)
	mu.Unlock()
	call()
	if tokens.Issued() != 2 {
		t.Errorf("%d token requests, want 2 (one, and one after expiry)", tokens.Issued())
	}
}

func TestVertexBody(t *testing.T) {
	out, err := vertex.VertexBody([]byte(`{"model":"claude-x","max_tokens":5,"messages":[],"metadata":{"model":"kept"}}`))
	if err != nil || string(out) != `{"max_tokens":5,"messages":[],"metadata":{"model":"kept"},"anthropic_version":"vertex-2023-10-16"}` {
		t.Errorf("%s %v", out, err)
	}
}

func FuzzVertexBody(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[]}`))
	f.Add([]byte(`{"anthropic_version":"x"}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = vertex.VertexBody(body) // must not panic
	})
}

// An upstream that echoes the token in an error (either family's shape):
// the error the client gets has it redacted.
func TestEchoedTokenRedacted(t *testing.T) {
	const tok = "ya29.c.secret-access-token-value"
	p := vertex.New(vertex.Config{Config: endpoint.Config{Name: "vertex"}, Project: "p", Location: "us-east5",
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})})
	for model, body := range map[string]string{
		"claude-haiku-4-5@20251001": `{"type":"error","error":{"type":"invalid_request_error","message":"bad token ` + tok + `"}}`,
		"gemini-2.5-flash":          `{"error":{"code":400,"message":"bad token ` + tok + `","status":"INVALID_ARGUMENT"}}`,
	} {
		req, err := p.NewRequest(context.Background(), &openai.ChatRequest{Model: model, Messages: []openai.Message{{Role: "user", Content: openai.TextContent("hi")}}})
		if err != nil {
			t.Fatal(err)
		}
		resp := &http.Response{StatusCode: 400, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: req}
		err = p.DecodeError(resp)
		if err == nil || strings.Contains(err.Error(), tok) || !strings.Contains(err.Error(), "[redacted]") {
			t.Errorf("%s: %v", model, err)
		}
	}
}

// The in-process API reaches each family too (PerModelProvider serves every
// path through the pipeline).
func TestInProcess(t *testing.T) {
	up := testupstream.New(t, testupstream.Vertex)
	p := configfile.VertexProvider{Provider: vertex.New(vertex.Config{Config: endpoint.Config{Name: "vertex", BaseURL: up.BaseURL()},
		Project: "test-project", Location: "us-east5", TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: up.Key})})}
	b, err := llmbridge.New(llmbridge.WithProvider(p))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, model := range []string{"vertex/claude-opus-4-1@20250805", "vertex/gemini-2.5-pro"} {
		resp, err := b.ChatCompletion(context.Background(), &llmbridge.ChatRequest{Model: model, Messages: []llmbridge.Message{llmbridge.UserMessage("hi")}})
		if err != nil || resp.Choices[0].Message.Content.String() != "Hello world" {
			t.Errorf("%s: %v", model, err)
		}
		var text strings.Builder
		for ch, err := range b.ChatCompletionStream(context.Background(), &llmbridge.ChatRequest{Model: model, Stream: true, Messages: []llmbridge.Message{llmbridge.UserMessage("hi")}}) {
			if err != nil {
				t.Fatalf("%s stream: %v", model, err)
			}
			for _, c := range ch.Choices {
				if c.Delta.Content != nil {
					text.WriteString(*c.Delta.Content)
				}
			}
		}
		if text.String() != "Hello world" {
			t.Errorf("%s stream: %q", model, text.String())
		}
	}
}

// Of Claude Code's anthropic-beta values only those Vertex takes go
// upstream (Vertex refuses a request naming any other), renamed where
// Vertex names them otherwise, without repeats across header lines.
func TestBetas(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"claude-code-20250219,interleaved-thinking-2025-05-14,prompt-caching-scope-2026-01-05,effort-2025-11-24"}, "interleaved-thinking-2025-05-14"},
		{[]string{"advanced-tool-use-2025-11-20, context-1m-2025-08-07", "context-1m-2025-08-07"}, "tool-search-tool-2025-10-19,context-1m-2025-08-07"},
		{[]string{"oauth-2025-04-20"}, ""},
		{nil, ""},
	} {
		if got := vertex.Betas(tc.in); got != tc.want {
			t.Errorf("Betas(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
