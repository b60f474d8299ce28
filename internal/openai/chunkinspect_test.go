package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
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
			// The shape learnt from the second chunk (if any) with other
			// bytes in its holes: tail, a string's text or not.
			if fourth := reshaped(&ci, tail); fourth != nil {
				checkInspector(t, &ci, fourth)
			}
		}
	})
}

// reshaped is the chunk of ci's head and shape with text in every hole
// (nil without a shape).
func reshaped(ci *ChunkInspector, text []byte) []byte {
	s := &ci.shape
	if !s.valid || len(ci.head) == 0 {
		return nil
	}
	b, from := slices.Clone(ci.head), int32(1) // the rest after its "{"
	for _, h := range s.holes[:s.n] {
		b = append(append(append(append(b, s.rest[from:h.start]...), '"'), text...), '"')
		from = h.end
	}
	return append(b, s.rest[from:]...)
}

// TestChunkShape: a stream's content chunks, read by their shape once
// one was learnt, answer as InspectChunk answers each — also when a
// hole's text is escaped, empty or not a string, or the bytes around the
// holes change.
func TestChunkShape(t *testing.T) {
	head := `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"default","system_fingerprint":"fp",`
	var ci ChunkInspector
	checkInspector(t, &ci, []byte(inspectorChunks[0]))
	checkInspector(t, &ci, []byte(head+`"choices":[{"index":0,"delta":{"content":"a"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"xyz"}`))
	if !ci.shape.valid || ci.shape.n != 2 || !ci.shape.holes[0].text || ci.shape.holes[1].text {
		t.Fatalf("no shape of a content chunk: %+v", ci.shape)
	}
	matched := 0
	for _, c := range []string{
		`{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"q"}`,
		`{"content":"caf\u00e9 \"x\"\n"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":""}`,
		`{"content":"é ✓"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"\u0041"}`,
		`{"content":""},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"zz"}`,
		`{"content":"again"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"q"}`,
		`{"content":"a"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"q","usage":{"total_tokens":5}}`,
		`{"content":"bad \x"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"q"}`,
		`{"content":"a"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"q"`,
		`{"content":"ctl ` + "\x01" + `"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"q"}`,
		`{"content":null},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"q"}`,
		`{"content":"a"},"logprobs":null,"finish_reason":"stop"}],"usage":null,"obfuscation":"q"}`,
		`{"content":"a"},"logprobs":null,"finish_reason":null}],"usage":{"total_tokens":1},"obfuscation":"q"}`,
		`{"content":"a"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"q"} `,
		`{"content":"a","content":"b"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"q"}`,
	} {
		chunk := []byte(head + `"choices":[{"index":0,"delta":` + c)
		rest := append([]byte{'{'}, chunk[len(ci.head):]...)
		if _, ok := ci.shape.match(rest, nil); ok {
			matched++
		}
		checkInspector(t, &ci, chunk)
	}
	if matched < 5 { // the first five; the rest change the shape, or are not JSON
		t.Errorf("%d chunks read by their shape, want at least 5", matched)
	}
}

// TestChunkShapeNotLearnt: chunks whose text comes from outside a string
// that may change, or that say more than their text, give no shape.
func TestChunkShapeNotLearnt(t *testing.T) {
	head := `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m",`
	for _, rest := range []string{
		`"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":null}]}`,
		`"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}`,
		`"choices":[],"usage":{"prompt_tokens":1}}`,
		`"error":{"message":"x"}}`,
		`"choices":[{"delta":{"content":"1"}},{"delta":{"content":"2"}},{"delta":{"content":"3"}},{"delta":{"content":"4"}},{"delta":{"content":"5"}},{"delta":{"content":"6"}},{"delta":{"content":"7"}},{"delta":{"content":"8"}},{"delta":{"content":"9"}}]}`,
	} {
		var ci ChunkInspector
		checkInspector(t, &ci, []byte(head+`"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}`))
		checkInspector(t, &ci, []byte(head+rest))
		if ci.shape.valid {
			t.Errorf("%s: a shape was learnt: %+v", rest, ci.shape.holes[:ci.shape.n])
		}
	}
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

// TestChunkShapeGuards: a shape is not used under another head (whose
// tokens may take a chunk past the tape's bound), nor for a rest with
// something else than a string in a hole; a stream whose rests never
// repeat stops learning shapes.
func TestChunkShapeGuards(t *testing.T) {
	var ci ChunkInspector
	checkInspector(t, &ci, []byte(`{"id":"a","choices":[]}`))
	checkInspector(t, &ci, []byte(`{"id":"a","choices":[{"delta":{"content":"a"}}],"o":"q"}`))
	if !ci.shape.valid {
		t.Fatal("no shape learnt")
	}
	checkInspector(t, &ci, []byte(`{"id":"a","choices":[{"delta":{"content":"a"}}],"o":x"}`))

	checkInspector(t, &ci, []byte(`{"id":"a","choices":[]}`))
	checkInspector(t, &ci, []byte(`{"id":"a","choices":[{"delta":{"content":"a"}}],"o":"q"}`))
	big := []byte(`{"x":[0` + strings.Repeat(",0", maxTapeValues-9) + `],`)
	checkInspector(t, &ci, append(slices.Clip(big), `"choices":[]}`...))
	checkInspector(t, &ci, append(slices.Clip(big), `"choices":[{"delta":{"content":"b"}}],"o":"r"}`...))

	ci = ChunkInspector{}
	checkInspector(t, &ci, []byte(`{"id":"a","choices":[]}`))
	for i := range 10 {
		checkInspector(t, &ci, fmt.Appendf(nil, `{"id":"a","choices":[{"delta":{"content":"a"}}],"seq":%d}`, i))
	}
	if ci.learnt != maxUnmatchedShapes {
		t.Errorf("%d shapes learnt in a row that matched nothing, want %d", ci.learnt, maxUnmatchedShapes)
	}
}
