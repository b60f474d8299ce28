package anthropic

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/llmbridge/llmbridge/internal/jsontest"
	"github.com/llmbridge/llmbridge/internal/openai"
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
		`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0},"output_tokens":1,"service_tier":"standard"}}}`,
		`{"type":"message_start","message":{"id":"m","content":[{"type":"text","text":"a"},{"type":"tool_use","id":"t","name":"n","input":{"a":[1]}}],"usage":null}}`,
		`{"type":"message_start","message":{"id":null,"content":null,"Usage":{}}}`, `{"type":"message_start","message":{"content":[null]}}`,
		`{"type":"message_start","message":{"usage":{"input_tokens":1.5}}}`, `{"type":"message_start","message":{"usage":{"INPUT_TOKENS":1}}}`,
		`{"type":"message_start","message":[]}`, `{"type":"message_start","message":null}`,
		`{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","input":null,"id":null}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"EmwK"}}`,
		`{"type":"content_block_start","index":0,"content_block":{"Input":{}}}`, `{"type":"content_block_start","content_block":"x"}`,
		`{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":null,"output_tokens":89,"cache_read_input_tokens":3}}`,
		`{"type":"message_delta","usage":null}`, `{"type":"message_delta","usage":{"output_tokens":"1"}}`, `{"type":"message_delta","usage":{"output_tokens":1},"usage":{}}`,
		`{"type":"error","error":null}`, `{"type":"content_block_delta","index":null,"delta":null}`,
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

// TestReaderNames: the event readers' name lists are their types' JSON
// names, so a member a case-variant away from one (which encoding/json
// binds) is left to encoding/json, and no field is missed.
func TestReaderNames(t *testing.T) {
	for _, c := range []struct {
		names []string
		typ   reflect.Type
	}{
		{eventNames, reflect.TypeFor[event]()}, {deltaNames, reflect.TypeOf(event{}.Delta)}, {responseNames, reflect.TypeFor[response]()},
		{rblockNames, reflect.TypeFor[rblock]()}, {usageNames, reflect.TypeFor[usageJSON]()},
	} {
		if got, want := slices.Sorted(slices.Values(c.names)), openai.JSONFieldsOf(c.typ).Names(); !slices.Equal(got, want) {
			t.Errorf("reader names %v, %v's %v", got, c.typ, want)
		}
	}
}

// TestStreamEventsReadByHand: every event of the recorded stream but
// errors is read by hand, not handed to encoding/json.
func TestStreamEventsReadByHand(t *testing.T) {
	b, err := os.ReadFile("testdata/stream_thinking_tool.sse")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range bytes.Split(b, []byte("\n")) {
		if d, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			n++
			if !fastEvent(d, new(event), nil) {
				t.Errorf("not read by hand: %s", d)
			}
		}
	}
	if n < 5 {
		t.Fatalf("%d events in the recording", n)
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

// responseSeeds are Messages responses, and shapes that must take
// encoding/json's path.
var responseSeeds = []string{
	`{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"thinking","thinking":"hm","signature":"EqQB"},{"type":"text","text":"Hello \"x\"\n"},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":1,"cache_read_input_tokens":2,"output_tokens":9,"service_tier":"standard"}}`,
	`{"id":"m","content":[],"usage":{}}`, `{"id":null,"content":null,"stop_reason":null,"usage":null}`, `{"content":[null]}`, `{"content":[{"input":null}]}`,
	`{"ID":"m"}`, `{"id":"a","id":"b"}`, `{"content":[{"Type":"text"}]}`, `{"usage":{"Output_Tokens":1}}`, `{"usage":{"output_tokens":1.5}}`,
	`{"content":{}}`, `{"id":1}`, `[]`, `null`, `{}`, `{"id":`, `{"id":"\ud800"}`, "{\"id\":\"\xff\"}",
}

func sameResponse(t *testing.T, data []byte) {
	t.Helper()
	jsontest.SameAsUnmarshal(t, "decodeResponse", data, decodeResponse)
}

func TestDecodeResponseIsJSONUnmarshal(t *testing.T) {
	for _, s := range responseSeeds {
		sameResponse(t, []byte(s))
	}
	var r response
	ok := false
	openai.WithValue([]byte(responseSeeds[0]), func(root openai.Value) { ok = readResponse(root, &r) })
	if !ok || len(r.Content) != 3 {
		t.Fatalf("the usual response was not read by hand: %v %+v", ok, r)
	}
}

func FuzzDecodeResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { sameResponse(t, data) })
}

// BenchmarkDecodeResponse: a non-streamed Messages answer (thinking, text
// and a tool call), by decodeResponse and by json.Unmarshal.
func BenchmarkDecodeResponse(b *testing.B) {
	data := []byte(responseSeeds[0])
	for _, d := range []struct {
		name string
		f    func([]byte, *response) error
	}{{"decodeResponse", decodeResponse}, {"json.Unmarshal", func(b []byte, r *response) error { return json.Unmarshal(b, r) }}} {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var r response
				if err := d.f(data, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
