package openai

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/llmbridge/llmbridge/internal/openai/corpus"
)

// refTextBytes is textBytes by encoding/json: the string values of the
// decoded document, summed.
func refTextBytes(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []any:
		n := 0
		for _, e := range x {
			n += refTextBytes(e)
		}
		return n
	case map[string]any:
		n := 0
		for _, e := range x {
			n += refTextBytes(e)
		}
		return n
	}
	return 0
}

// FuzzTextBytes holds the scan's count of a document's string values to
// encoding/json's decoding of them (for documents without a name given
// twice, whose earlier value encoding/json drops, and in valid UTF-8,
// whose invalid bytes it replaces).
func FuzzTextBytes(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi \"there\"\n\u00e9\ud83d\ude00\ud800x\udc00"}]}`,
		`["a",1,{"k":"v","n":null,"o":{"deep":["\\","\/"]}},true]`,
		`"plain"`, `{}`, `[]`, `{"a":"\ud800\u0041"}`, `["\u20ac\u0000\u07ff", "\ud800\ud800\udc00", "\udbff\udfff\ud800"]`,
		`{"k\u00e9\n":"v","\ud83d\ude00":{"\"":"\\"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tp, ok := scanTape(b)
		defer putTape(tp)
		if !ok || !utf8.Valid(b) {
			return
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber() // 1E700 is JSON, not a float64
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("scanTape accepted what encoding/json refuses: %v", err)
		}
		if CheckMembers(b, nil) != nil {
			return // a name twice: encoding/json keeps the last value only
		}
		if want := refTextBytes(v); tp.text != want {
			t.Fatalf("%s: the scan counted %d, encoding/json %d", b, tp.text, want)
		}
	})
}

// TestTextBytes: the unescaped length of the string values, names not
// counted; not ok for a body it cannot read onto a tape.
func TestTextBytes(t *testing.T) {
	body := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("é", 10) + `\n\u00e9\ud83d\ude00\ud800"}]}`
	if n, ok := TextBytes([]byte(body)); !ok || n != 1+4+20+1+2+4+3 {
		t.Errorf("TextBytes %d (ok %v), want 35", n, ok)
	}
	ReadChecked([]byte(body), nil, func(root Value, _ *MemberFault, _ bool) {
		if n, m := root.DocTextBytes(), root.Get("messages").DocTextBytes(); n != 35 || m != 35 {
			t.Errorf("Value.DocTextBytes: root %d, messages %d; want the document's 35 for both", n, m)
		}
	})
	if _, ok := TextBytes([]byte(`{"a":`)); ok {
		t.Error("not JSON, yet ok")
	}
	if _, ok := TextBytes([]byte(strings.Repeat("[0,", maxTapeValues))); ok {
		t.Error("over the tape's bound, yet ok")
	}
}

// BenchmarkTextBytes: a coding agent's 100 kB Messages request.
func BenchmarkTextBytes(b *testing.B) {
	body := corpus.AgentMessages(200)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := TextBytes(body); !ok {
			b.Fatal("not read")
		}
	}
}
