package openai

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzChatRequest checks that any request the decoder accepts re-encodes to
// valid JSON that decodes to the same value, and that nothing panics.
func FuzzChatRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","function":{"arguments":"{}"}}]}],"x":[1]}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":""},{"type":"image_url","image_url":{"url":"data:,"}}]}],"stream_options":{"include_usage":true,"z":1}}`))
	// Issue 24: members that differ from a field's name only in case.
	f.Add([]byte(`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"Model":"o1"}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","Arguments":"{}"}}],"Content":"x"}]}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"URL":"u"}}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req ChatRequest
		if json.Unmarshal(data, &req) != nil {
			return
		}
		out, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("re-encode failed: %v", err)
		}
		var again ChatRequest
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("re-encoded JSON does not decode: %v\n%s", err, out)
		}
		out2, _ := json.Marshal(again)
		var a, b any
		_ = json.Unmarshal(out, &a)
		_ = json.Unmarshal(out2, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}

// FuzzInspectChunk checks the byte-level chunk inspection never panics and
// agrees with a full decode about the usage chunk.
func FuzzInspectChunk(f *testing.F) {
	f.Add([]byte(`{"choices":[],"usage":{"prompt_tokens":1}}`))
	f.Add([]byte(`{"choices":[{"index":0}],"usage":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var text []byte
		info := InspectChunk(data, &text)
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil {
			return
		}
		var choices []json.RawMessage
		isEmpty := json.Unmarshal(m["choices"], &choices) == nil && choices != nil && len(choices) == 0
		if isEmpty != info.NoChoices {
			t.Fatalf("NoChoices=%v, full decode says %v for %s", info.NoChoices, isEmpty, data)
		}
	})
}
