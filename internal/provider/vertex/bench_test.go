package vertex_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/provider/vertex"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

func benchProvider(base string) *vertex.Provider {
	return vertex.New(vertex.Config{Config: endpoint.Config{Name: "vertex", BaseURL: base}, Project: "test-project", Location: "us-central1",
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ya29.bench"})})
}

func benchRequest(model string, stream bool) *openai.ChatRequest {
	return &openai.ChatRequest{Model: model, Stream: stream, Messages: []openai.Message{
		{Role: "system", Content: openai.TextContent("Be brief.")},
		{Role: "user", Content: openai.TextContent("What is the capital of France? Answer in one word.")}}}
}

// The per-request cost of each translation: the Chat request translated
// (Gemini, Claude) and, for Claude, made Vertex's; and the Messages
// pass-through's body rewrite. Each includes the cached token.
func BenchmarkVertexNewRequest(b *testing.B) {
	p := benchProvider("https://us-central1-aiplatform.googleapis.com")
	for _, model := range []string{"gemini-2.5-flash", "claude-sonnet-4-5@20250929"} {
		b.Run(model, func(b *testing.B) {
			req := benchRequest(model, true)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.NewRequest(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("messages-pass-through", func(b *testing.B) {
		body := []byte(`{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"system":"Be brief.","messages":[{"role":"user","content":"What is the capital of France? Answer in one word."}]}`)
		c := p.Family("claude-sonnet-4-5@20250929").(*vertex.Claude)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.NewRawMessagesRequest(context.Background(), body, "claude-sonnet-4-5@20250929", true, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The per-event cost of decoding each family's stream into chunks: a
// recorded stream of 100 content events from the fake.
func BenchmarkVertexDecodeStream(b *testing.B) {
	const events = 100
	up := testupstream.New(b, testupstream.Vertex)
	content := make([]string, events)
	for i := range content {
		content[i] = "word "
	}
	up.SetDefault(testupstream.Reply{Content: content, Usage: testupstream.Usage{Prompt: 10, Completion: events}})
	up.Key = "ya29.bench"
	p := benchProvider(up.URL)
	for _, model := range []string{"gemini-2.5-flash", "claude-sonnet-4-5@20250929"} {
		b.Run(model, func(b *testing.B) {
			req, err := p.NewRequest(context.Background(), benchRequest(model, true))
			if err != nil {
				b.Fatal(err)
			}
			resp, err := up.Client().Do(req)
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(resp.Status, err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				r := &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(raw)), Request: req}
				var text strings.Builder
				for ch, err := range p.DecodeStream(r) {
					if err != nil {
						b.Fatal(err)
					}
					for _, c := range ch.Choices {
						if c.Delta.Content != nil {
							text.WriteString(*c.Delta.Content)
						}
					}
				}
				if text.Len() != 5*events {
					b.Fatalf("text %d bytes", text.Len())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/events, "ns/event")
		})
	}
}
