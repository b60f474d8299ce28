package sse

import (
	"bytes"
	"io"
	"testing"
)

// openAIStream is a 22-event chat stream shaped like the recordings in
// shared/reference/wire-formats.md §6.1.
func openAIStream() []byte {
	var buf bytes.Buffer
	chunk := `{"id":"chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl","object":"chat.completion.chunk","created":1782955817,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_d0469e1700","choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"C63r"}`
	for range 20 {
		_ = WriteData(&buf, []byte(chunk))
	}
	_ = WriteData(&buf, []byte(`{"id":"chatcmpl-Dx0X","object":"chat.completion.chunk","created":1782955817,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":53,"completion_tokens":15,"total_tokens":68}}`))
	_ = WriteDone(&buf)
	return buf.Bytes()
}

func BenchmarkSSERead(b *testing.B) { benchRead(b, openAIStream(), 22) }

// benchRead reads stream, which holds events events, b.N times and
// reports the cost per event too.
func benchRead(b *testing.B, stream []byte, events int) {
	src := bytes.NewReader(stream)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(stream)
		r := NewReader(src)
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != events {
			b.Fatalf("read %d events, want %d", n, events)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(events), "ns/event")
}

func BenchmarkSSEWrite(b *testing.B) {
	payload := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" word"}}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteData(io.Discard, payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSSEReadNamed: an Anthropic-style stream, every event named,
// most of them content_block_delta; the names are not allocated again.
func BenchmarkSSEReadNamed(b *testing.B) {
	var buf bytes.Buffer
	for _, name := range []string{"message_start", "content_block_start", "ping"} {
		buf.WriteString("event: " + name + "\ndata: {\"type\":\"" + name + "\"}\n\n")
	}
	for range 20 {
		buf.WriteString("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" word\"}}\n\n")
	}
	for _, name := range []string{"content_block_stop", "message_delta", "message_stop"} {
		buf.WriteString("event: " + name + "\ndata: {\"type\":\"" + name + "\"}\n\n")
	}
	benchRead(b, buf.Bytes(), 26)
}
