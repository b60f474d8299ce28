package responses

import (
	"testing"

	"github.com/tidwall/gjson"
)

var eventSeeds = []string{
	`{"type":"response.output_text.delta","content_index":0,"delta":" word","item_id":"msg_1","logprobs":[],"output_index":0,"sequence_number":7}`,
	`{"type":"response.created","response":{"id":"resp_1","type":"x","delta":"y"},"sequence_number":0}`,
	`{"type":"a","type":"b","delta":1,"delta":"x","sequence_number":"3"}`,
	`{"typ\u0065":"escaped","delta":"a\"b\u00e9"}`,
	`{"sequence_number":1e3,"delta":null}`,
	`[{"type":"x"}]`, `"type"`, `{}`, ``, `{"type":`, `{"type":"x",}`, ` {"type" : "sp" } `,
}

// FuzzEventMembers: EventMembers reads what gjson.GetManyBytes reads.
func FuzzEventMembers(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := EventMembers(data)
		want := gjson.GetManyBytes(data, "type", "sequence_number", "delta")
		for i := range got {
			g, w := got[i], want[i]
			if g.Type != w.Type || g.Raw != w.Raw || g.Str != w.Str || g.Num != w.Num || g.Exists() != w.Exists() {
				t.Fatalf("%q member %d: %+v, gjson %+v", data, i, g, w)
			}
		}
	})
}

func TestEventMembersAllocations(t *testing.T) {
	data := []byte(eventSeeds[0])
	if n := testing.AllocsPerRun(100, func() { _ = EventMembers(data) }); n != 0 {
		t.Errorf("%v allocations per event, want 0", n)
	}
}

// BenchmarkEventMembers: a text delta's members, as the native relay reads
// them, and with gjson.GetManyBytes.
func BenchmarkEventMembers(b *testing.B) {
	data := []byte(eventSeeds[0])
	b.Run("EventMembers", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = EventMembers(data)
		}
	})
	b.Run("gjson.GetManyBytes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = gjson.GetManyBytes(data, "type", "sequence_number", "delta")
		}
	})
}
