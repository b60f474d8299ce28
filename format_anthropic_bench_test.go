package llmbridge_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// benchReply is the fakes' answer in the format benchmarks: n text
// deltas of " word".
func benchReply(n int) testupstream.Reply {
	deltas := make([]string, n)
	for i := range deltas {
		deltas[i] = " word"
	}
	return testupstream.Reply{Content: deltas, Usage: testupstream.Usage{Prompt: 30, Completion: n}}
}

// formatCase is one request of a format benchmark.
type formatCase struct{ name, path, body string }

// benchFormats runs each case unstreamed, streamed with 20 deltas
// (stream=true) and streamed with 120 (stream=long): what one more event
// costs on a path is (long − true) / 100, the per-request work cancelled
// out. ns/delta divides a stream's whole cost by its deltas.
func benchFormats(b *testing.B, br http.Handler, fakes []*testupstream.Server, cases []formatCase) {
	for _, tc := range cases {
		for _, v := range []struct {
			name   string
			stream bool
			deltas int
		}{{"stream=false", false, 20}, {"stream=true", true, 20}, {"stream=long", true, 120}} {
			body := tc.body + `}`
			if v.stream {
				body = tc.body + `,"stream":true}`
			}
			b.Run(tc.name+"/"+v.name, func(b *testing.B) {
				for _, s := range fakes {
					s.SetDefault(benchReply(v.deltas))
				}
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
				if v.stream {
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(v.deltas), "ns/delta")
				}
			})
		}
	}
}

// BenchmarkAnthropicMessages is the cost of one Messages request through
// the handler (called directly, the upstream a loopback fake answering 20
// text deltas, or 120 for stream=long): translated to OpenAI and to Gemini
// and back, beside the Anthropic pass-through and the chat pass-through to
// OpenAI as the baseline; and a chat client's request translated to
// Anthropic and to Gemini (chat-to=…), whose baseline is the Messages
// pass-through to the same fake. The fakes' own work is in every number
// alike.
func BenchmarkAnthropicMessages(b *testing.B) {
	oa, gm, an := testupstream.New(b, testupstream.OpenAI), testupstream.New(b, testupstream.GeminiNative), testupstream.New(b, testupstream.Anthropic)
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
	const chat = `"messages":[{"role":"user","content":"Write twenty words about the sea."}]`
	benchFormats(b, br, []*testupstream.Server{oa, gm, an}, []formatCase{
		{"to=openai", "/v1/messages", `{"model":"openai/gpt-4o","max_tokens":1024,` + messages},
		{"to=gemini", "/v1/messages", `{"model":"gemini/gemini-2.0-flash-exp","max_tokens":1024,` + messages},
		{"to=anthropic-passthrough", "/v1/messages", `{"model":"anthropic/claude-sonnet-4-5","max_tokens":1024,` + messages},
		{"baseline=chat-to-openai-passthrough", "/v1/chat/completions", `{"model":"openai/gpt-4o",` + chat},
		{"chat-to=anthropic", "/v1/chat/completions", `{"model":"anthropic/claude-sonnet-4-5",` + chat},
		{"chat-to=gemini", "/v1/chat/completions", `{"model":"gemini/gemini-2.0-flash-exp",` + chat},
	})
}
