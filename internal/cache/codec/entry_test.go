package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// completedStream is the native entry of a completed Responses stream
// (OpenAI's events, a type in every event), as the root's nativeEntry
// records it.
func completedStream() *Entry {
	return &Entry{Format: "responses", Events: []Event{
		{"response.created", json.RawMessage(`{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress"}}`)},
		{"response.output_text.delta", json.RawMessage(`{"type":"response.output_text.delta","sequence_number":1,"delta":"Hi \"there\""}`)},
		{"response.completed", json.RawMessage(`{"type":"response.completed","sequence_number":2,"response":{"id":"resp_1","status":"completed","usage":{"input_tokens":5,"output_tokens":2,"total_tokens":7}}}`)},
	}}
}

func TestDecodeEntryRefusesMixedOrForeign(t *testing.T) {
	for _, v := range []string{
		`{"v":1,"stored":1,"response":{"id":"x"},"chunks":[{}]}`,
		`{"v":1,"stored":1,"native":{"id":"x"}}`,                        // native without a format
		`{"v":1,"stored":1,"format":"responses","response":{"id":"x"}}`, // format on a canonical answer
		`{"v":1,"stored":1,"format":"responses","events":[["a"]]}`,      // an event without data
		`{"v":1,"stored":1,"format":"responses","native":{},"events":[["a",{}]]}`,
		`{"v":3,"stored":1,"response":{}}`,
		`{"v":2,"stored":1,"chunks":[{"id":1,"a":2},{"b":3}],"head":[0,6],"short":"01"}`,   // a head cut before its comma
		`{"v":2,"stored":1,"chunks":[{"id":[1,2]},{"b":3}],"head":[0,9],"short":"01"}`,     // ... inside a member
		`{"v":2,"stored":1,"chunks":[{"id":1,"a":2},{"b":3}],"head":[0,7],"short":"011"}`,  // a mark too many
		`{"v":2,"stored":1,"chunks":[{"id":1,"a":2},{}],"head":[0,7],"short":"01"}`,        // a short chunk with no member
		`{"v":2,"stored":1,"chunks":[{"id":1,"a":2},{"b":3}],"head":[1,4],"short":"01"}`,   // a head in a short chunk
		`{"v":2,"stored":1,"chunks":[{"id":1,"a":2},{"b":3}],"head":[0,70],"short":"01"}`,  // ... past its chunk
		`{"v":2,"stored":1,"chunks":[{"id":1,"a":2},{"b":3}],"head":[0,7,1],"short":"01"}`, // not a pair
		`{"v":2,"stored":1,"chunks":[{"id":1,"a":2},{"b":3}],"short":"01"}`,                // no head
		`{"v":2,"stored":1,"format":"responses","native":{},"head":[0,1],"short":""}`,      // on a native answer
		`{"v":2,"stored":1,"chunks":[[1,{"a":2}],{"b":3}],"head":[0,3],"short":"01"}`,      // a head not of an object
		`{"v":2,"stored":1,"chunks":[{"id":1,"a":2},{"b":3}],"head":[0,7],"short":"00"}`,   // version 2 is short
		`{"v":1,"stored":1,"chunks":[{"id":1,"a":2},{"b":3}],"head":[0,7],"short":"01"}`,   // version 1 is not
		hugeUnshorten(1000),
		`{"v":1,"stored":1}`,
		`not json`,
	} {
		if e, err := Decode([]byte(v)); err == nil {
			t.Errorf("%s decoded to %+v", v, e)
		}
	}
}

// hugeUnshorten is a value a recorder never writes (for k of 1000): a
// long head before k tiny short chunks, which put back together take
// about k/2 times its length (one poisoned key of a shared backend must
// not make every reader allocate without bound).
func hugeUnshorten(k int) string {
	var b strings.Builder
	b.WriteString(`{"v":2,"stored":1,"chunks":[{"id":"` + strings.Repeat("x", 1000) + `","a":1}`)
	for range k {
		b.WriteString(`,{"a":0}`)
	}
	b.WriteString(`],"head":[0,1009],"short":"0` + strings.Repeat("1", k) + `"}`)
	return b.String()
}

// TestDecodeBoundsShortChunks: a few short chunks under a long head put
// back together; a thousand are refused, as no recorder writes them.
func TestDecodeBoundsShortChunks(t *testing.T) {
	e, err := Decode([]byte(hugeUnshorten(10)))
	if err != nil || len(e.Chunks) != 11 || !bytes.HasSuffix(e.Chunks[10], []byte(`",`+`"a":0}`)) {
		t.Fatalf("ten short chunks: %v", err)
	}
	if _, err := Decode([]byte(hugeUnshorten(1000))); err == nil {
		t.Fatal("a thousand short chunks under a 1 kB head were put back together")
	}
}

// FuzzDecodeEntry: any value a backend hands back decodes or is refused,
// never panics; what decodes encodes to a value that decodes to the same
// entry.
func FuzzDecodeEntry(f *testing.F) {
	v, _ := completedStream().Encode()
	f.Add(v)
	f.Add([]byte(`{"v":1,"stored":5,"provider":"openai","upstream_model":"m","chunks":[{"choices":[]},{"a":1}]}`))
	f.Add([]byte(`{"v":1,"stored":5,"response":{"choices":[{"finish_reason":"stop"}]}}`))
	f.Add([]byte(`{"v":1,"stored":5,"format":"responses","native":{"status":"completed"}}`))
	f.Add(shortEntry(entryOf(stream22())))
	f.Add([]byte(`{"chunks":[{"id":"a","choices":[]},{"choices":[{"delta":{}}]},{"x":1}],"head":[0,8],"short":"010","v":2,"stored":5}`))
	f.Add([]byte(`{"chunks":[ {"id":"\u00e9", "a":1},{"choices":[]}],"head":[0,17],"short":"01","v":2,"stored":5}`))
	f.Add([]byte(`{"chunks":[{"id":[1,2]},{"choices":[]}],"head":[0,10],"short":"01","v":2,"stored":5}`))
	f.Add([]byte(`{"chunks":[{"id":1,"a":2},{}],"head":[0,7],"short":"01","v":2,"stored":5}`))
	f.Add([]byte(`{"chunks":[{"id":1,"a":2},{"b":3}],"head":[0,7.5],"short":"01","v":2,"stored":5}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		e, err := Decode(v)
		if old, oldErr := decodeGetMany(v); (err == nil) != (oldErr == nil) || err == nil && !reflect.DeepEqual(e, old) {
			t.Fatalf("Decode %+v, %v; before %+v, %v", e, err, old, oldErr)
		}
		if err != nil {
			return
		}
		_ = e.Clean()
		_ = e.RawUsage()
		again, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		e2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded entry does not decode: %v\n%s\nfrom %s", err, again, v)
		}
		if !reflect.DeepEqual(normalize(e), normalize(e2)) {
			t.Fatalf("round trip\n got %+v\nwant %+v", e2, e)
		}
	})
}

// normalize compacts an entry's raw members, which decode as they were
// written (whitespace included) and encode as they are.
func normalize(e *Entry) *Entry {
	c := *e
	compact := func(b []byte) []byte {
		var buf bytes.Buffer
		if json.Compact(&buf, b) != nil {
			return b
		}
		return buf.Bytes()
	}
	if c.Response != nil {
		c.Response = compact(c.Response)
	}
	if c.Native != nil {
		c.Native = compact(c.Native)
	}
	c.Chunks = nil
	for _, ch := range e.Chunks {
		c.Chunks = append(c.Chunks, compact(ch))
	}
	c.Events = nil
	for _, ev := range e.Events {
		c.Events = append(c.Events, Event{ev.Name, compact(ev.Data)})
	}
	return &c
}

// BenchmarkDecode: the entry of BenchmarkCacheHit's stored 22-chunk
// stream, decoded as every hit decodes it.
func BenchmarkDecode(b *testing.B) {
	e := entryOf(stream22())
	e.Stored, e.Provider, e.UpstreamModel = 1700000000000, "openai", "gpt-4o-mini"
	v, _ := e.Encode()
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, err := Decode(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawUsage: the usage of a stored 22-chunk stream, which every
// hit reads for its record.
func BenchmarkRawUsage(b *testing.B) {
	e := entryOf(stream22())
	b.ReportAllocs()
	for b.Loop() {
		if e.RawUsage() == nil {
			b.Fatal("no usage")
		}
	}
}

// decodeGetMany is Decode as it was before the one-pass read (a
// gjson.GetManyBytes of every member): FuzzDecodeEntry holds Decode to it.
func decodeGetMany(v []byte) (*Entry, error) {
	if !gjson.ValidBytes(v) {
		return nil, errors.New("cache entry is not JSON")
	}
	raw := func(r gjson.Result) []byte {
		if r.Index > 0 && r.Index+len(r.Raw) <= len(v) {
			return v[r.Index : r.Index+len(r.Raw)]
		}
		return []byte(r.Raw)
	}
	f := gjson.GetManyBytes(v, "v", "stored", "provider", "upstream_model", "response", "chunks", "format", "native", "events", "head", "short")
	e := &Entry{Version: int(f[0].Int()), Stored: f[1].Int(), Provider: f[2].Str, UpstreamModel: f[3].Str, Format: f[6].Str}
	if f[4].IsObject() {
		e.Response = raw(f[4])
	}
	f[5].ForEach(func(_, ch gjson.Result) bool {
		e.Chunks = append(e.Chunks, raw(ch))
		return true
	})
	if f[7].IsObject() {
		e.Native = raw(f[7])
	}
	f[8].ForEach(func(_, pair gjson.Result) bool {
		var ev Event
		i := 0
		pair.ForEach(func(_, m gjson.Result) bool {
			switch i {
			case 0:
				ev.Name = m.Str
			case 1:
				ev.Data = raw(m)
			}
			i++
			return true
		})
		e.Events = append(e.Events, ev)
		return i == 2 && ev.Data != nil
	})
	answers := 0
	for _, has := range []bool{e.Response != nil, len(e.Chunks) > 0, e.Native != nil, len(e.Events) > 0} {
		if has {
			answers++
		}
	}
	native := e.Native != nil || len(e.Events) > 0
	cut := f[9].Exists() || f[10].Exists()
	if !(e.Version == 2 && cut || e.Version == 1 && !cut) || answers != 1 || native != (e.Format != "") || len(e.Events) > 0 && e.Events[len(e.Events)-1].Data == nil {
		return nil, errors.New("not a cache entry of this version")
	}
	if !cut {
		return e, nil
	}
	// Short chunks: the head (the beginning of a whole chunk) glued to
	// each one's members, which must make a valid chunk, and a head that
	// would make one of any members.
	head, short := f[9], f[10]
	var pair []float64
	if short.Type != gjson.String || e.Format != "" || len(short.Str) != len(e.Chunks) || !head.IsArray() ||
		json.Unmarshal([]byte(head.Raw), &pair) != nil || len(pair) != 2 || pair[0] != math.Trunc(pair[0]) || pair[1] != math.Trunc(pair[1]) ||
		pair[0] < 0 || pair[0] >= float64(len(e.Chunks)) || short.Str[int(pair[0])] != '0' || pair[1] < 1 || pair[1] > 1024 || pair[1] >= float64(len(e.Chunks[int(pair[0])])) {
		return nil, errors.New("bad head")
	}
	h := string(e.Chunks[int(pair[0])][:int(pair[1])])
	if !strings.HasPrefix(h, "{") || !strings.HasSuffix(strings.TrimRight(h, " \t\r\n"), ",") || !json.Valid([]byte(h+`"x":[1]}`)) {
		return nil, errors.New("bad head")
	}
	rebuilt := 0
	for i, mark := range short.Str {
		if mark == '1' {
			rebuilt += len(h) + len(e.Chunks[i]) - 1
		}
	}
	if rebuilt > 32*len(v) {
		return nil, errors.New("too much to put back together")
	}
	for i, mark := range short.Str {
		switch {
		case mark == '1' && bytes.HasPrefix(e.Chunks[i], []byte(`{"`)):
			e.Chunks[i] = append([]byte(h), e.Chunks[i][1:]...)
			if !json.Valid(e.Chunks[i]) {
				return nil, errors.New("short chunk is not JSON with its head")
			}
		case mark != '0':
			return nil, errors.New("bad mark")
		}
	}
	return e, nil
}
