package responses

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/golden"
	"github.com/llmbridge/llmbridge/internal/openai"
)

// fixedClock makes completed_at reproducible in golden files.
func fixedClock() time.Time { return time.Unix(1769786600, 0) }

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readChunks reads one chat chunk per line.
func readChunks(t testing.TB, name string) []*openai.ChatChunk {
	t.Helper()
	var out []*openai.ChatChunk
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, name)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ch openai.ChatChunk
		if err := json.Unmarshal(sc.Bytes(), &ch); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, &ch)
	}
	return out
}

// sse renders events as they go on the wire.
func sse(events []Event) []byte {
	var b bytes.Buffer
	for _, ev := range events {
		b.WriteString("event: " + ev.Name + "\ndata: ")
		b.Write(ev.Data)
		b.WriteString("\n\n")
	}
	return b.Bytes()
}

func TestToChatGolden(t *testing.T) {
	for _, tc := range []struct {
		name                string
		droppedTools, items []string
	}{
		{"request_codex", []string{"web_search", "image_generation"}, []string{"web_search_call"}},
		{"request_multimodal", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chat, tr, e := ToChat(readFile(t, tc.name+".json"))
			if e != nil {
				t.Fatal(e)
			}
			if !slices.Equal(tr.DroppedTools, tc.droppedTools) || !slices.Equal(tr.DroppedItems, tc.items) {
				t.Errorf("dropped tools %q items %q, want %q %q", tr.DroppedTools, tr.DroppedItems, tc.droppedTools, tc.items)
			}
			b, err := openai.Marshal(chat)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tc.name+".chat.golden.json", golden.IndentJSON(t, b))
		})
	}
}

func TestFromChatGolden(t *testing.T) {
	req, e := Decode([]byte(`{"model":"anthropic/claude-sonnet-4-5","instructions":"Be brief.","input":"Weather in Paris and Tokyo?",
		"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}},{"type":"web_search"}],
		"reasoning":{"effort":"low"},"max_output_tokens":1024,"metadata":{"ticket":"42"}}`))
	if e != nil {
		t.Fatal(e)
	}
	tr := &Translation{Request: req, Clock: fixedClock}
	for _, name := range []string{"response_reasoning_tools", "response_length"} {
		t.Run(name, func(t *testing.T) {
			var resp openai.ChatResponse
			if err := json.Unmarshal(readFile(t, name+".chat.json"), &resp); err != nil {
				t.Fatal(err)
			}
			b, err := FromChat(&resp, tr)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, name+".golden.json", golden.IndentJSON(t, b))
		})
	}
}

func TestStreamGolden(t *testing.T) {
	req, e := Decode([]byte(`{"model":"m","input":"hi","stream":true,"tools":[{"type":"function","name":"get_weather"}],"parallel_tool_calls":true}`))
	if e != nil {
		t.Fatal(e)
	}
	for _, name := range []string{"stream_text", "stream_deepseek_reasoning_tools", "stream_anthropic_signature_length"} {
		t.Run(name, func(t *testing.T) {
			enc := NewStreamEncoder(&Translation{Request: req, Clock: fixedClock})
			var events []Event
			for _, ch := range readChunks(t, name+".chunks.jsonl") {
				events = enc.Chunk(events, ch)
			}
			events = enc.End(events)
			checkStreamInvariants(t, events)
			golden.Check(t, name+".golden.sse", sse(events))
		})
	}
}

// checkStreamInvariants checks what every stream must satisfy: valid JSON
// whose type is the event name, sequence numbers 0, 1, …, created and
// in_progress first, exactly one terminal event last, and every item
// event naming an item added before with the same output_index.
func checkStreamInvariants(t *testing.T, events []Event) {
	t.Helper()
	if len(events) < 3 || events[0].Name != "response.created" || events[1].Name != "response.in_progress" {
		t.Fatalf("stream does not start with created, in_progress: %d events", len(events))
	}
	items := map[string]int{} // item id → output_index
	done := map[string]bool{}
	for i, ev := range events {
		var m struct {
			Type        string `json:"type"`
			Seq         *int   `json:"sequence_number"`
			ItemID      string `json:"item_id"`
			OutputIndex *int   `json:"output_index"`
			Item        *struct {
				ID string `json:"id"`
			} `json:"item"`
		}
		if err := json.Unmarshal(ev.Data, &m); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, ev.Data)
		}
		if m.Type != ev.Name {
			t.Errorf("event %d: type %q, name %q", i, m.Type, ev.Name)
		}
		if m.Seq == nil || *m.Seq != i {
			t.Errorf("event %d: sequence_number %v", i, m.Seq)
		}
		terminal := ev.Name == "response.completed" || ev.Name == "response.incomplete" || ev.Name == "response.failed"
		if terminal != (i == len(events)-1) {
			t.Errorf("event %d (%s): terminal events must come exactly once, last", i, ev.Name)
		}
		switch {
		case ev.Name == "response.output_item.added":
			if _, dup := items[m.Item.ID]; dup {
				t.Errorf("item %s added twice", m.Item.ID)
			}
			if *m.OutputIndex != len(items) {
				t.Errorf("item %s added at output_index %d, want %d", m.Item.ID, *m.OutputIndex, len(items))
			}
			items[m.Item.ID] = *m.OutputIndex
		case ev.Name == "response.output_item.done":
			if idx, ok := items[m.Item.ID]; !ok || idx != *m.OutputIndex || done[m.Item.ID] {
				t.Errorf("item %s done at %d without being open there", m.Item.ID, *m.OutputIndex)
			}
			done[m.Item.ID] = true
		case m.ItemID != "":
			if idx, ok := items[m.ItemID]; !ok || idx != *m.OutputIndex || done[m.ItemID] {
				t.Errorf("event %d (%s) for item %s at %v, which is not open there", i, ev.Name, m.ItemID, m.OutputIndex)
			}
		}
	}
	if last := events[len(events)-1].Name; last != "response.failed" && len(done) != len(items) {
		t.Errorf("%d items added, %d done", len(items), len(done))
	}
}
