package openai

import (
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkScanTape holds scanTape to json.Valid, and its tape, for valid
// JSON, to the one readTape (which trusts its input) reads.
func checkScanTape(t *testing.T, d []byte) {
	t.Helper()
	st, ok := scanTape(d)
	defer putTape(st)
	if want := json.Valid(d); ok != want {
		t.Fatalf("scanTape(%.60q) = %v, json.Valid %v", d, ok, want)
	}
	if !ok {
		return
	}
	rt := readTape(string(d))
	defer putTape(rt)
	toks := slices.Clone(st.toks)
	for i := range toks {
		toks[i].class = 0 // readTape does not class names
	}
	if !slices.Equal(toks, rt.toks) {
		t.Fatalf("scanTape(%.60q): tape %v, readTape's %v", d, st.toks, rt.toks)
	}
	if wide := strings.IndexFunc(string(d), func(r rune) bool { return r >= utf8.RuneSelf }) >= 0; st.wide != wide {
		t.Fatalf("scanTape(%.60q): wide %v, want %v", d, st.wide, wide)
	}
}

func TestScanTapeIsJSONValid(t *testing.T) {
	seeds := append(slices.Clone(validSeeds), string(typicalBody()),
		`"0123456789abcdef\"0123456789"`, `"0123456789abcdefé0123456789\u00e9"`, "\"0123456789abcdef\x1f\"",
		"\"0123456789abcdef\\", `"01234567\"`, `"é0123456789abcdef\n"`, "\"0123456789abcdef\x7f\"",
		`{"a":[1,{"b":"c"},[]],"d":{}}`, `{"a":1 , "b" : [ true ,false,null ] }`, "\"\xe9\"", `[1e5,-0.5E-7,0e+1]`,
		// Member names: scanName's table stops at a control character
		// (invalid), an escape or the quote; DEL and non-ASCII are text.
		"{\"a\x01b\":1}", "{\"\x1f\":1}", "{\"ab\x00", "{\"a\x7fb\":1}", `{"a\u0041b":1}`, "{\"é\":1}", `{"A\"":1}`,
		// Surrogate pairs, read as one escape when both halves are there.
		`"\ud800\u12"`, `"\ud800\uzzzz"`, `"\ud800\udc0"`, `"\ud800\udc00`, `"\ud800\udc00"`, `"\ud800\ud800\udc00"`, `"\udc00\ud800"`)
	for _, s := range seeds {
		checkScanTape(t, []byte(s))
	}
}

func FuzzScanTape(f *testing.F) {
	for _, s := range validSeeds {
		if len(s) < 1000 {
			f.Add([]byte(s))
		}
	}
	f.Add(typicalBody())
	f.Add([]byte("{\"a\x01b\":1}"))
	f.Fuzz(func(t *testing.T, d []byte) { checkScanTape(t, d) })
}

// BenchmarkScanTape: reading and checking the typical 2 kB body in one
// pass, against ValidJSON followed by readTape.
func BenchmarkScanTape(b *testing.B) {
	body := typicalBody()
	b.Run("scanTape", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			t, ok := scanTape(body)
			if !ok {
				b.Fatal("refused")
			}
			putTape(t)
		}
	})
	b.Run("scanTapeMembers", func(b *testing.B) { // and the member-name check
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			t, ok, f := scanTapeMembers(body, chatMembers)
			if !ok || f != nil {
				b.Fatal("refused")
			}
			putTape(t)
		}
	})
	b.Run("ValidJSON+readTape", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if !ValidJSON(body) {
				b.Fatal("refused")
			}
			putTape(readTape(string(body)))
		}
	})
}

// FuzzTapeCheckMembers holds the tape's member check to CheckMembers, on
// valid JSON, with and without a top-level field set.
func FuzzTapeCheckMembers(f *testing.F) {
	for _, s := range memberSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, d []byte) { checkTapeMembers(t, d) })
}

func checkTapeMembers(t *testing.T, d []byte) {
	t.Helper()
	for _, top := range []*FieldSet{nil, chatMembers} {
		tp, ok, got := scanTapeMembers(d, top)
		putTape(tp)
		if !ok {
			if got != nil {
				t.Fatalf("%.80q: not JSON, yet a fault %v", d, got)
			}
			return
		}
		want := CheckMembers(d, top)
		if (got == nil) != (want == nil) || got != nil && (got.Param() != want.Param() || got.Message() != want.Message() || got.Name != want.Name || got.Other != want.Other) {
			t.Fatalf("%.80q: tape %v, CheckMembers %v", d, got, want)
		}
	}
}

func TestTapeCheckMembers(t *testing.T) {
	for _, s := range memberSeeds() {
		checkTapeMembers(t, []byte(s))
	}
}

func memberSeeds() []string {
	s := []string{string(typicalBody()), bigObject(40, 3), `{"a":{"b":[{"c":1,"C":2}]}}`, `{"\xff":1,"\ufffd":2}`,
		`{"a\"b":1,"A\u0022B":2}`, `[{"a":1,"a":2}]`, `[[],[{}],{"x":[{"y":1,"Y":2}]}]`, `{"a":[1,2,{"b":{"c":1,"c":2}}]}`,
		`{"a":{},"b":[],"A":1}`, `1`, `"x"`, `[]`}
	for _, p := range memberProbes {
		s = append(s, p.body)
	}
	return s
}

// TestCheckJSON: CheckJSON is ValidJSON, utf8.Valid and CheckMembers.
func TestCheckJSON(t *testing.T) {
	for _, s := range append(memberSeeds(), validSeeds...) {
		d := []byte(s)
		valid, utf, f := CheckJSON(d, chatMembers)
		if valid != ValidJSON(d) || valid && (utf != utf8.Valid(d) || (f == nil) != (CheckMembers(d, chatMembers) == nil)) {
			t.Errorf("CheckJSON(%.60q) = %v %v %v", d, valid, utf, f)
		}
	}
}

// TestCheckJSONLargeBodyNeedsNoTape: a large body of small tokens (token
// ids) is checked without a tape of eight times its size, with the same
// answers.
func TestCheckJSONLargeBodyNeedsNoTape(t *testing.T) {
	body := []byte(`{"model":"m","input":[` + strings.Repeat("0,", 2<<20) + `0],"Input":1}`)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	valid, utf, f := CheckJSON(body, NewFieldSet("model", "input"))
	runtime.ReadMemStats(&after)
	if !valid || !utf || f == nil || f.Param() != "Input" {
		t.Fatalf("CheckJSON = %v %v %v", valid, utf, f)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("checking a %d-byte body allocated %d bytes", len(body), grew)
	}
	if valid, _, _ := CheckJSON(body[:len(body)-1], nil); valid {
		t.Error("a cut body is valid")
	}
}

// TestParseChatBoundsItsTape: a chat body of more than maxTapeValues
// values is refused with a 413 before its tape outgrows 16 MiB; one just
// under the bound is read.
func TestParseChatBoundsItsTape(t *testing.T) {
	big := func(n int) []byte {
		return []byte(`{"model":"m","messages":[{"role":"user","content":"x"}],"x_ids":[` + strings.Repeat("0,", n) + `0]}`)
	}
	body := big(4 << 20)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, e := ParseChat(body)
	runtime.ReadMemStats(&after)
	if e == nil || e.Status != 413 || e.Code != "request_too_large" {
		t.Fatalf("ParseChat of 4M values = %+v", e)
	}
	// 16 MiB of tape and at most as much again while it doubled; under
	// the race detector sync.Pool and allocation sizes differ.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 40<<20 && !raceEnabled {
		t.Errorf("refusing it allocated %d MiB", grew>>20)
	}
	if e := ValidateChat(body); e == nil || e.Status != 413 {
		t.Fatalf("ValidateChat of 4M values = %+v", e)
	}
	if _, e := ParseChat(big(maxTapeValues - 100)); e != nil {
		t.Fatalf("ParseChat just under the bound: %+v", e)
	}
}

// TestInspectChunkBoundsItsTape: an upstream's chunk of millions of values
// (valid JSON or not) is inspected within the tape's bound.
func TestInspectChunkBoundsItsTape(t *testing.T) {
	for _, tail := range []string{"0]}", "0"} { // valid, and cut short
		chunk := []byte(`{"choices":[{"delta":{"content":"a"}}],"x":[` + strings.Repeat("0,", 4<<20) + tail)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var text []byte
		InspectChunk(chunk, &text)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 80<<20 && !raceEnabled {
			t.Errorf("inspecting a %d-byte chunk allocated %d MiB", len(chunk), grew>>20)
		}
		if string(text) != "a" {
			t.Errorf("text %q", text)
		}
	}
}
