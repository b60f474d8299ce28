package llmbridge

import (
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
	openaiprov "github.com/llmbridge/llmbridge/internal/provider/openai"
)

var benchBody = []byte(`{"model":"openai/gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Write twenty words about the sea, the sky and the wind, please."}],"stream":true,"temperature":0.2,"stream_options":{"include_usage":false},"metadata":{"k":"v"}}`)

// BenchmarkParseEnvelope: reading and checking a chat request before admission (the envelope and every member).
func BenchmarkParseEnvelope(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if env := (chatFormat{}).parse(benchBody); env.bad != nil {
			b.Fatal(env.bad)
		}
	}
}

// BenchmarkRewriteBody: the request rewrite of the pass-through path.
func BenchmarkRewriteBody(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := openaiprov.RewriteBody(benchBody, "gpt-4o-mini", true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInspectChunk: usage extraction from one relayed chunk.
func BenchmarkInspectChunk(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl","object":"chat.completion.chunk","created":1782955817,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_d0469e1700","choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"C63r"}`)
	b.ReportAllocs()
	text := make([]byte, 0, 4096)
	for b.Loop() {
		text = text[:0]
		if openai.InspectChunk(chunk, &text).Usage != nil {
			b.Fatal("usage")
		}
	}
}

// BenchmarkDecodeRequest: the typed decode of non-pass-through providers.
func BenchmarkDecodeRequest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeRequest(benchBody); err != nil {
			b.Fatal(err)
		}
	}
}
