package llmbridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

func canonical(body []byte) string { return string(appendCanonical(nil, gjson.ParseBytes(body), true)) }

func TestCanonicalIgnoresOrderWhitespaceEscapesAndDeliveryMembers(t *testing.T) {
	base := `{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi <b>\"x\"</b> é"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string"}}}}}]}`
	for _, same := range []string{
		`{ "messages" : [ { "content" : "hi <b>\"x\"</b> é" , "role" : "user" } ] , "model" : "m" , "temperature" : 0,
		  "tools": [{"function":{"parameters":{"properties":{"a":{"type":"string"}},"type":"object"},"name":"f"},"type":"function"}]}`,
		`{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi \u003cb\u003e\u0022x\"\u003c/b\u003e \u00e9"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string"}}}}}],"stream":true,"stream_options":{"include_usage":true},"user":"u-1","metadata":{"k":"v"}}`,
	} {
		if got, want := canonical([]byte(same)), canonical([]byte(base)); got != want {
			t.Errorf("canonical forms differ:\n%s\n%s", got, want)
		}
	}
}

func TestCanonicalSeesEveryChange(t *testing.T) {
	base := `{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}],"x":{"stream":true}}`
	for _, other := range []string{
		`{"model":"m2","temperature":0,"messages":[{"role":"user","content":"hi"}],"x":{"stream":true}}`,
		`{"model":"m","temperature":0.0,"messages":[{"role":"user","content":"hi"}],"x":{"stream":true}}`,
		`{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi "}],"x":{"stream":true}}`,
		`{"model":"m","temperature":0,"messages":[{"role":"system","content":"hi"}],"x":{"stream":true}}`,
		`{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"},{"role":"user","content":"hi"}],"x":{"stream":true}}`,
		`{"model":"m","temperature":0,"messages":[{"role":"user","content":["hi"]}],"x":{"stream":true}}`,
		`{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}],"x":{"stream":false}}`, // only top-level stream is ignored
		`{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}],"x":{"stream":true},"seed":1}`,
		`{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}],"x":{"stream":true},"n":null}`,
	} {
		if canonical([]byte(other)) == canonical([]byte(base)) {
			t.Errorf("no change seen in %s", other)
		}
	}
}

// FuzzCacheCanonical checks the canonical form of any JSON object: it is
// JSON equal to the input without the ignored members; reordering the
// members and reindenting does not change it; changing, adding or removing
// any member that is not ignored does.
func FuzzCacheCanonical(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0}`,
		`{"a":[1,2.50,-3e5,true,false,null],"b":{"c":"\u00e9\n\t\"","d":{}},"stream":true}`,
		`{"model":"x","messages":[],"metadata":{"user_id":"u"},"user":"me","stream_options":{}}`,
		`{"k":"\ud83d\ude00","K":"é","":""}`,
		`{"a":1,"a":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) || !gjson.ParseBytes(body).IsObject() {
			return
		}
		canon := canonical(body)
		if !json.Valid([]byte(canon)) {
			t.Fatalf("canonical form is not JSON: %s", canon)
		}
		var in, out map[string]any
		if err := unmarshalNumbers(body, &in); err != nil {
			return
		}
		if err := unmarshalNumbers([]byte(canon), &out); err != nil {
			t.Fatal(err)
		}
		for _, k := range cacheIgnored {
			delete(in, k)
		}
		if !reflect.DeepEqual(in, out) {
			t.Fatalf("canonical form means something else:\n%s\n%s", body, canon)
		}
		if hasDuplicateKeys(gjson.ParseBytes(body)) || !utf8.Valid(body) {
			return // below, re-encoding drops earlier duplicates and replaces invalid UTF-8
		}
		for _, again := range [][]byte{reversed(body), indented(body)} {
			if got := canonical(again); got != canon {
				t.Fatalf("the same request, re-encoded, has another canonical form:\n%s\n%s\n%s", again, got, canon)
			}
		}
		gjson.ParseBytes(body).ForEach(func(k, v gjson.Result) bool {
			if slices.Contains(cacheIgnored[:], k.Str) {
				if changed, _ := sjson.SetRawBytes(bytes.Clone(body), escapePath(k.Str), []byte(`{"changed":1}`)); canonical(changed) != canon {
					t.Fatalf("changing ignored %q changed the canonical form", k.Str)
				}
				return true
			}
			changed, err := sjson.SetRawBytes(bytes.Clone(body), escapePath(k.Str), []byte(`{"changed":[`+v.Raw+`]}`))
			if err == nil && canonical(changed) == canon {
				t.Fatalf("changing %q went unseen: %s", k.Str, changed)
			}
			removed, err := sjson.DeleteBytes(bytes.Clone(body), escapePath(k.Str))
			if err == nil && canonical(removed) == canon {
				t.Fatalf("removing %q went unseen: %s", k.Str, removed)
			}
			return true
		})
		added, err := sjson.SetRawBytes(bytes.Clone(body), "zz_added_member", []byte(`0`))
		if err == nil && !gjson.GetBytes(body, "zz_added_member").Exists() && canonical(added) == canon {
			t.Fatal("an added member went unseen")
		}
	})
}

func unmarshalNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// escapePath escapes a member name for a gjson/sjson path.
func escapePath(k string) string {
	var b strings.Builder
	for _, r := range k {
		if strings.ContainsRune(`.*?|#@\!=<>%:,"`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func hasDuplicateKeys(v gjson.Result) bool {
	dup := false
	switch {
	case v.IsObject():
		seen := map[string]bool{}
		v.ForEach(func(k, val gjson.Result) bool {
			dup = dup || seen[k.Str] || hasDuplicateKeys(val)
			seen[k.Str] = true
			return !dup
		})
	case v.IsArray():
		v.ForEach(func(_, val gjson.Result) bool { dup = hasDuplicateKeys(val); return !dup })
	}
	return dup
}

// reversed re-encodes body with every object's members in reverse order
// and strings escaped by encoding/json (HTML characters as \u003c …).
func reversed(body []byte) []byte {
	var b bytes.Buffer
	var walk func(v gjson.Result)
	walk = func(v gjson.Result) {
		switch {
		case v.IsObject():
			var keys []string
			var vals []gjson.Result
			v.ForEach(func(k, val gjson.Result) bool { keys, vals = append(keys, k.Str), append(vals, val); return true })
			b.WriteByte('{')
			for i := len(keys) - 1; i >= 0; i-- {
				k, _ := json.Marshal(keys[i])
				b.Write(k)
				b.WriteByte(':')
				walk(vals[i])
				if i > 0 {
					b.WriteByte(',')
				}
			}
			b.WriteByte('}')
		case v.IsArray():
			b.WriteByte('[')
			first := true
			v.ForEach(func(_, val gjson.Result) bool {
				if !first {
					b.WriteByte(',')
				}
				first = false
				walk(val)
				return true
			})
			b.WriteByte(']')
		case v.Type == gjson.String:
			s, _ := json.Marshal(v.Str)
			b.Write(s)
		default:
			b.WriteString(v.Raw)
		}
	}
	walk(gjson.ParseBytes(body))
	return b.Bytes()
}

func indented(body []byte) []byte {
	var b bytes.Buffer
	if err := json.Indent(&b, body, "\n ", "\t  "); err != nil {
		panic(fmt.Sprint("indent of valid JSON failed: ", err))
	}
	return b.Bytes()
}

func BenchmarkCacheKey(b *testing.B) {
	c := &call{f: chatFormat{}, body: benchBody, env: envelope{model: "openai/gpt-4o-mini"}}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		c.cacheKey(false)
	}
}
