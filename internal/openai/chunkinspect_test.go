package openai

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

// inspectorChunks are a stream's chunks as OpenAI writes them, and some
// that share their head but are not what they seem.
var inspectorChunks = []string{
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"default","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"a"}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"default","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"b"}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"default","system_fingerprint":"fp","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}],"usage":null}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"default","system_fingerprint":"fp","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"default","system_fingerprint":"fp","usage":{"prompt_tokens":1},"choices":[]}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"default","system_fingerprint":"fp","error":{"message":"x"}}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"default","system_fingerprint":"fp",}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"default","system_fingerprint":"fp","choices":[{"delta":{"content":"x"}}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"default","system_fingerprint":"fp","choices":[{"delta":{"content":"cut"}}],"usage":{"total_tokens":1}} trailing`,
	`{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`,
	` {"id":"chatcmpl-2", "object":"chat.completion.chunk","created":1,"model":"m",  "choices":[{"index":0,"delta":{"reasoning_content":"r\u00e9"},"finish_reason":null}]}`,
	`{"us\u0061ge":{"total_tokens":3},"choices":[]}`,
}

// TestChunkInspectorIsInspectChunk: a stream's chunks read by one
// inspector answer as InspectChunk answers each, text included.
func TestChunkInspectorIsInspectChunk(t *testing.T) {
	var ci ChunkInspector
	fast := 0
	for round := range 2 {
		for _, c := range inspectorChunks {
			if len(ci.head) > 0 && bytes.HasPrefix([]byte(c), ci.head) {
				fast++
			}
			checkInspector(t, &ci, []byte(c))
		}
		if round == 0 && fast < 4 {
			t.Fatalf("only %d chunks were read from the head on", fast)
		}
	}
}

func checkInspector(t *testing.T, ci *ChunkInspector, c []byte) {
	t.Helper()
	var text, want []byte
	got := ci.Inspect(c, &text)
	w := InspectChunk(c, &want)
	if !reflect.DeepEqual(got, w) || !bytes.Equal(text, want) {
		t.Fatalf("%s:\n got %+v %q\nwant %+v %q", c, got, text, w, want)
	}
	// What Short says of the chunk is the chunk, cut as it promises.
	if head, rest := ci.Short(); rest != nil {
		if len(rest) < 2 || rest[0] != '{' || rest[1] != '"' || !json.Valid(rest) || !bytes.Equal(append(slices.Clip(head), rest[1:]...), c) {
			t.Fatalf("%s: Short is %q + %q", c, head, rest)
		}
		trimmed := bytes.TrimRight(head, " \t\r\n")
		if len(trimmed) == 0 || trimmed[len(trimmed)-1] != ',' {
			t.Fatalf("%s: Short's head %q does not end after a comma", c, head)
		}
	}
}

// FuzzChunkInspector holds ChunkInspector equal to InspectChunk on a
// chunk and a second one made of the first's beginning and other bytes,
// the shape that takes the inspector's short path.
func FuzzChunkInspector(f *testing.F) {
	for i, c := range inspectorChunks {
		next := inspectorChunks[(i+1)%len(inspectorChunks)]
		f.Add([]byte(c), []byte(next[min(len(next), 120):]), uint16(120))
	}
	f.Fuzz(func(t *testing.T, first, tail []byte, cut uint16) {
		var ci ChunkInspector
		checkInspector(t, &ci, first)
		second := append(append([]byte(nil), first[:min(int(cut), len(first))]...), tail...)
		checkInspector(t, &ci, second)
		if len(ci.head) > 0 {
			third := append(append([]byte(nil), ci.head...), tail...)
			checkInspector(t, &ci, third)
		}
	})
}

// BenchmarkChunkInspector: a content chunk read from its stream's head
// on, against InspectChunk reading it whole.
func BenchmarkChunkInspector(b *testing.B) {
	c := []byte(inspectorChunks[1])
	text := make([]byte, 0, 4096)
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			text = text[:0]
			InspectChunk(c, &text)
		}
	})
	b.Run("inspector", func(b *testing.B) {
		var ci ChunkInspector
		ci.Inspect([]byte(inspectorChunks[0]), nil)
		b.ReportAllocs()
		for b.Loop() {
			text = text[:0]
			ci.Inspect(c, &text)
		}
	})
}
