package llmbridge_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// BenchmarkAnthropicMessages is the cost of one Messages request through
// the handler (called directly, the upstream a loopback fake answering 20
// text deltas): translated to OpenAI and to Gemini and back, beside the
// Anthropic pass-through and the chat pass-through to OpenAI as the
// baseline. The fakes' own work is in every number alike.
func BenchmarkAnthropicMessages(b *testing.B) {
	deltas := make([]string, 20)
	for i := range deltas {
		deltas[i] = " word"
	}
	reply := testupstream.Reply{Content: deltas, Usage: testupstream.Usage{Prompt: 30, Completion: 20}}
	oa, gm, an := testupstream.New(b, testupstream.OpenAI), testupstream.New(b, testupstream.GeminiNative), testupstream.New(b, testupstream.Anthropic)
	for _, s := range []*testupstream.Server{oa, gm, an} {
		s.SetDefault(reply)
	}
	br, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: oa.BaseURL(), APIKey: oa.Key})),
		llmbridge.WithProvider(llmbridge.Gemini(llmbridge.ProviderConfig{BaseURL: gm.BaseURL(), APIKey: gm.Key})),
		llmbridge.WithProvider(llmbridge.Anthropic(llmbridge.ProviderConfig{BaseURL: an.BaseURL(), APIKey: an.Key})),
	)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	const messages = `"system":"You are terse.","messages":[{"role":"user","content":[{"type":"text","text":"Write twenty words about the sea."}]}],"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"location":{"type":"string"}}}}]`
	for _, tc := range []struct{ name, path, body string }{
		{"to=openai", "/v1/messages", `{"model":"openai/gpt-4o","max_tokens":1024,` + messages},
		{"to=gemini", "/v1/messages", `{"model":"gemini/gemini-2.0-flash-exp","max_tokens":1024,` + messages},
		{"to=anthropic-passthrough", "/v1/messages", `{"model":"anthropic/claude-sonnet-4-5","max_tokens":1024,` + messages},
		{"baseline=chat-to-openai-passthrough", "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"Write twenty words about the sea."}]`},
	} {
		for _, stream := range []bool{false, true} {
			body := tc.body + `}`
			name := tc.name + "/stream=false"
			if stream {
				body = tc.body + `,"stream":true}`
				name = tc.name + "/stream=true"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					w := httptest.NewRecorder()
					r := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(body))
					r.Header.Set("Anthropic-Version", "2023-06-01")
					r.Header.Set("Content-Type", "application/json")
					br.ServeHTTP(w, r)
					if w.Code != 200 || !strings.Contains(w.Body.String(), "word") {
						b.Fatalf("%d %s", w.Code, w.Body)
					}
				}
				if stream {
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(deltas)), "ns/delta")
				}
			})
		}
	}
}
