package codec

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// TestEncodeDecodeRoundTrip: every kind of entry, encoded and decoded, is
// the same entry, version set.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	for name, e := range map[string]*Entry{
		"native stream": completedStream(),
		"native body":   {Format: "responses", Native: json.RawMessage(`{"id":"resp_1","status":"completed"}`)},
		"response":      {Response: json.RawMessage(`{"id":"c","choices":[{"index":0,"finish_reason":"stop"}]}`)},
		"chunks":        {Chunks: []json.RawMessage{json.RawMessage(`{"id":"c","choices":[]}`), json.RawMessage(`{"id":"c"}`)}},
	} {
		t.Run(name, func(t *testing.T) {
			e.Stored, e.Provider, e.UpstreamModel = 1700000000000, "open\"ai\x01", "gpt-4o"
			v, err := e.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(v) {
				t.Fatalf("encoded entry is not JSON: %s", v)
			}
			got, err := Decode(v)
			if err != nil {
				t.Fatalf("%v: %s", err, v)
			}
			if e.Version != version || !reflect.DeepEqual(got, e) {
				t.Errorf("round trip\n got %+v\nwant %+v", got, e)
			}
		})
	}
}

// TestStreamAndResponseConvert: a response with text, a refusal and tool
// calls, split into chunks and joined again, is the response it was; and
// the tool-call deltas of a stream join into whole calls.
func TestStreamAndResponseConvert(t *testing.T) {
	r := &openai.ChatResponse{}
	if err := json.Unmarshal([]byte(`{"id":"c1","object":"chat.completion","created":7,"model":"m","choices":[
		{"index":0,"message":{"role":"assistant","content":"hi","reasoning_content":"think","refusal":"no"},"finish_reason":"stop"},
		{"index":1,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}],
		"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`), r); err != nil {
		t.Fatal(err)
	}
	e, err := EntryOf(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := e.DecodeChunks()
	if err != nil {
		t.Fatal(err)
	}
	s, err := EntryOf(nil, chunks)
	if err != nil {
		t.Fatal(err)
	}
	back, err := s.DecodeResponse()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := openai.Marshal(r)
	if got, _ := openai.Marshal(back); string(got) != string(want) {
		t.Errorf("split and joined:\n got %s\nwant %s", got, want)
	}
	if !s.Clean() || string(s.RawUsage()) != string(e.RawUsage()) {
		t.Errorf("clean %v, usage %s, want %s", s.Clean(), s.RawUsage(), e.RawUsage())
	}

	var deltas []*openai.ChatChunk
	for _, c := range []string{
		`{"id":"c2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t1","function":{"name":"f","arguments":"{\"a\""}}]}}]}`,
		`{"id":"c2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]}`,
		`{"id":"c2","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"t2","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`,
	} {
		ch := new(openai.ChatChunk)
		if err := json.Unmarshal([]byte(c), ch); err != nil {
			t.Fatal(err)
		}
		deltas = append(deltas, ch)
	}
	got, _ := openai.Marshal(accumulate(deltas))
	const wantCalls = `{"id":"c2","object":"chat.completion","created":0,"model":"","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"t2","type":"function","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`
	if string(got) != wantCalls {
		t.Errorf("accumulated\n got %s\nwant %s", got, wantCalls)
	}
}

func BenchmarkAppendCanonical(b *testing.B) {
	body := []byte(`{"model":"openai/gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Write twenty words about the sea, the sky and the wind, please."}],"stream":true,"temperature":0.2,"stream_options":{"include_usage":false},"metadata":{"k":"v"}}`)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		buf = AppendCanonical(buf[:0], body)
	}
}
