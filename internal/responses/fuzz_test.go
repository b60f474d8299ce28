package responses

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// FuzzToChat: any body either translates to a chat request that encodes as
// valid JSON, or is refused with a 400 that names a member or the body.
func FuzzToChat(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/request_*.json")
	for _, s := range seeds {
		if !strings.Contains(s, "golden") {
			b, _ := os.ReadFile(s)
			f.Add(b)
		}
	}
	f.Add([]byte(`{"model":"m","input":"hi"}`))
	f.Add([]byte(`{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"x"}]}]}`))
	// Issue 24: case variants and duplicates.
	f.Add([]byte(`{"model":"openai/gpt-4o-mini","input":"hi","Model":"o1"}`))
	f.Add([]byte(`{"model":"m","input":[{"role":"user","content":"a","Content":"b"}]}`))
	f.Add([]byte(`{"model":"m","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"function","Name":"f"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		chat, tr, e := ToChat(body)
		if e != nil {
			if e.Status != 400 || e.Message == "" {
				t.Fatalf("bad refusal %+v", e)
			}
			return
		}
		out, err := openai.Marshal(chat)
		if err != nil || !json.Valid(out) {
			t.Fatalf("chat request does not encode: %v", err)
		}
		if tr.Request == nil {
			t.Fatal("no request in translation")
		}
	})
}

// FuzzStreamEncoder: any sequence of chunks, then End or Fail, gives a
// stream that keeps every invariant (see checkStreamInvariants) and whose
// events are valid JSON.
func FuzzStreamEncoder(f *testing.F) {
	for _, name := range []string{"stream_text", "stream_deepseek_reasoning_tools", "stream_anthropic_signature_length"} {
		b, _ := os.ReadFile(filepath.Join("testdata", name+".chunks.jsonl"))
		f.Add(b, false)
	}
	f.Fuzz(func(t *testing.T, lines []byte, fail bool) {
		enc := NewStreamEncoder(nil)
		var events []Event
		for _, line := range strings.Split(string(lines), "\n") {
			var ch openai.ChatChunk
			if json.Unmarshal([]byte(line), &ch) != nil {
				continue
			}
			events = enc.Chunk(events, &ch)
		}
		if fail {
			events = enc.Fail(events, &openai.APIError{Status: 502, Message: "cut"})
		} else {
			events = enc.End(events)
		}
		for _, ev := range events {
			if !json.Valid(ev.Data) {
				t.Fatalf("invalid JSON in %s: %s", ev.Name, ev.Data)
			}
		}
		checkStreamInvariants(t, events)
	})
}
