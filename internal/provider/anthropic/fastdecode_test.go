package anthropic

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// eventSeeds are the events of the recorded stream and shapes that must
// take encoding/json's path.
func eventSeeds(t testing.TB) [][]byte {
	b, err := os.ReadFile("testdata/stream_thinking_tool.sse")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if d, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			out = append(out, d)
		}
	}
	for _, s := range []string{
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello \"there\"\n\u00e9"}}`,
		`{"type":"ping"}`, `{"type":"content_block_stop","index":1}`, `{"type":"message_stop"}`,
		`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}`,
		`{"Type":"ping"}`, `{"type":"content_block_delta","index":0,"delta":{"Text":"x"}}`, `{"type":"x","type":"y"}`,
		`{"type":"content_block_delta","index":1.0,"delta":{}}`, `{"type":null}`, `{"index":99999999999999999999}`,
		`{"type":"content_block_delta","delta":{"type":"text_delta","text":7}}`, `[]`, `{}`, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM"}}`,
		`{"typeſ":"x"}`, `{"type":"a","extra":{"deep":[1,{"x":null}]}}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

func sameEvent(t *testing.T, data []byte) {
	t.Helper()
	var fast, slow event
	ferr := decodeEvent(data, &fast, nil)
	serr := json.Unmarshal(data, &slow)
	if (ferr == nil) != (serr == nil) {
		t.Fatalf("%q: decodeEvent error %v, json.Unmarshal error %v", data, ferr, serr)
	}
	if ferr == nil && !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%q:\ndecodeEvent    %+v\njson.Unmarshal %+v", data, fast, slow)
	}
}

func TestDecodeEventIsJSONUnmarshal(t *testing.T) {
	seeds := eventSeeds(t)
	for _, s := range seeds {
		sameEvent(t, s)
	}
	var e event
	delta := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`)
	if !fastEvent(delta, &e, nil) {
		t.Fatal("a text delta fell back to encoding/json")
	}
	// The text outlives the SSE reader's buffer.
	for i := range delta {
		delta[i] = 'x'
	}
	if e.Delta.Text != "Hi" {
		t.Fatalf("the text changed with the caller's buffer: %q", e.Delta.Text)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range eventSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { sameEvent(t, data) })
}

// BenchmarkDecodeEvent: one text delta as Anthropic streams it.
func BenchmarkDecodeEvent(b *testing.B) {
	data := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" capital of France"}}`)
	b.Run("decodeEvent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e event
			if err := decodeEvent(data, &e, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e event
			if err := json.Unmarshal(data, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
