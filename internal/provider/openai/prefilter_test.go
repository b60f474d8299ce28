package openai

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// FuzzMayBeError: a chunk mayBeError passes over is never one
// InspectChunk calls an error event.
func FuzzMayBeError(f *testing.F) {
	for _, s := range []string{
		`{"error":{"message":"x"}}`, `{"\u0065rror":{"message":"x"}}`, `{"id":"c","choices":[{"delta":{"content":"error"}}]}`,
		`{"error":null}`, `{"a":{"error":1}}`, `{"id":"c","choices":[{"index":0,"delta":{"content":" word"}}],"obfuscation":"x"}`,
		`{"err\u006fr":1}`, `[{"error":1}]`, `{"error"  :  "x"}`, `{"error":1`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !mayBeError(data) && openai.InspectChunk(data, nil).Error {
			t.Fatalf("%q: an error event mayBeError passed over", data)
		}
	})
}

// BenchmarkDecodeStream: a 100-delta OpenAI stream decoded to chunks, as
// a translated stream (a Messages or Responses client) reads it.
func BenchmarkDecodeStream(b *testing.B) {
	head := `data: {"id":"chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl","object":"chat.completion.chunk","created":1782955817,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_d0469e1700","choices":`
	body := head + `[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"C63r"}` + "\n\n"
	const n = 100
	for range n {
		body += head + `[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"qfQVOwfh"}` + "\n\n"
	}
	body += head + `[],"usage":{"prompt_tokens":53,"completion_tokens":100,"total_tokens":153}}` + "\n\ndata: [DONE]\n\n"
	p := New(Config{Name: "openai", BaseURL: "https://x/v1"})
	b.ReportAllocs()
	for b.Loop() {
		for _, err := range p.DecodeStream(&http.Response{Body: io.NopCloser(strings.NewReader(body))}) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/event")
}
