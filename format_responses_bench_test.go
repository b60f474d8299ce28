package llmbridge_test

import (
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// BenchmarkResponses is the cost of one Responses API request through the
// handler (called directly, the upstream a loopback fake answering 20 text
// deltas, or 120 for stream=long; see benchFormats): translated to chat
// completions (DeepSeek) and to Gemini and back, beside the pass-through
// to OpenAI's /v1/responses and the chat pass-through as the baseline. The
// fakes' own work is in every number alike.
func BenchmarkResponses(b *testing.B) {
	oa, ds, gm := testupstream.New(b, testupstream.OpenAI), testupstream.New(b, testupstream.DeepSeek), testupstream.New(b, testupstream.GeminiNative)
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
	benchFormats(b, br, []*testupstream.Server{oa, ds, gm}, []formatCase{
		{"to=deepseek", "/v1/responses", `{"model":"deepseek/deepseek-chat",` + input},
		{"to=gemini", "/v1/responses", `{"model":"gemini/gemini-2.0-flash-exp",` + input},
		{"to=openai-passthrough", "/v1/responses", `{"model":"openai/gpt-4o",` + input},
		{"baseline=chat-to-openai-passthrough", "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"Write twenty words about the sea."}]`},
		{"chat-to=deepseek", "/v1/chat/completions", `{"model":"deepseek/deepseek-chat","messages":[{"role":"user","content":"Write twenty words about the sea."}]`},
	})
}
