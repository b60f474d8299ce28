package responses

import (
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// BenchmarkToChat is the per-request cost of translating a Codex-like
// request (decode, validate, build the chat request).
func BenchmarkToChat(b *testing.B) {
	body := readFile(b, "request_codex.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, _, e := ToChat(body); e != nil {
			b.Fatal(e)
		}
	}
}

// BenchmarkFromChat is the per-response cost of encoding a Response.
func BenchmarkFromChat(b *testing.B) {
	chat, tr, _ := ToChat(readFile(b, "request_codex.json"))
	_ = chat
	resp := &openai.ChatResponse{ID: "x", Model: "m", Choices: []openai.Choice{{FinishReason: "stop", Message: openai.Message{
		Role: "assistant", Content: openai.TextContent("The capital of France is Paris.")}}}, Usage: &openai.Usage{PromptTokens: 10, CompletionTokens: 7}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromChat(resp, tr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamTextDelta is the per-event cost of the commonest event:
// one content chunk in, one response.output_text.delta out.
func BenchmarkStreamTextDelta(b *testing.B) {
	enc := NewStreamEncoder(nil)
	s := " capital"
	ch := &openai.ChatChunk{ID: "chatcmpl-1", Model: "m", Choices: []openai.ChunkChoice{{Delta: openai.Delta{Content: &s}}}}
	events := enc.Chunk(nil, ch)
	b.ReportAllocs()
	for b.Loop() {
		events = enc.Chunk(events[:0], ch)
	}
}

// BenchmarkStreamWhole encodes a whole reasoning + parallel tool call
// stream (8 chunks, 38 events) per iteration.
func BenchmarkStreamWhole(b *testing.B) {
	chunks := readChunks(b, "stream_deepseek_reasoning_tools.chunks.jsonl")
	var events []Event
	b.ReportAllocs()
	for b.Loop() {
		enc := NewStreamEncoder(nil)
		events = events[:0]
		for _, ch := range chunks {
			events = enc.Chunk(events, ch)
		}
		events = enc.End(events)
	}
}
