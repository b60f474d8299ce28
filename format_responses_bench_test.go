package llmbridge_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// BenchmarkResponses is the cost of one Responses API request through the
// handler (called directly, the upstream a loopback fake answering 20 text
// deltas): translated to chat completions (DeepSeek) and to Gemini and
// back, beside the pass-through to OpenAI's /v1/responses and the chat
// pass-through as the baseline. The fakes' own work is in every number
// alike; ns/delta divides a stream's cost by its deltas.
func BenchmarkResponses(b *testing.B) {
	deltas := make([]string, 20)
	for i := range deltas {
		deltas[i] = " word"
	}
	reply := testupstream.Reply{Content: deltas, Usage: testupstream.Usage{Prompt: 30, Completion: 20}}
	oa, ds, gm := testupstream.New(b, testupstream.OpenAI), testupstream.New(b, testupstream.DeepSeek), testupstream.New(b, testupstream.GeminiNative)
	for _, s := range []*testupstream.Server{oa, ds, gm} {
		s.SetDefault(reply)
	}
	br, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: oa.BaseURL(), APIKey: oa.Key})),
		llmbridge.WithProvider(llmbridge.DeepSeek(llmbridge.ProviderConfig{BaseURL: ds.BaseURL(), APIKey: ds.Key})),
		llmbridge.WithProvider(llmbridge.Gemini(llmbridge.ProviderConfig{BaseURL: gm.BaseURL(), APIKey: gm.Key})),
	)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	const input = `"instructions":"You are terse.","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"Write twenty words about the sea."}]}],` +
		`"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}],"store":false`
	for _, tc := range []struct{ name, path, body string }{
		{"to=deepseek", "/v1/responses", `{"model":"deepseek/deepseek-chat",` + input},
		{"to=gemini", "/v1/responses", `{"model":"gemini/gemini-2.0-flash-exp",` + input},
		{"to=openai-passthrough", "/v1/responses", `{"model":"openai/gpt-4o",` + input},
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
