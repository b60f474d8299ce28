package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// canonical is the canonical form of the request body.
func canonical(body []byte) string { return string(AppendCanonical(nil, body)) }

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

// TestCanonicalKeepsEveryStringApart: two strings share a canonical form
// exactly when they are the same string (the same UTF-16 code units),
// however escaped. The probe of issue 24 found lone surrogates ("\ud800",
// "\udfff") all decoded to U+FFFD and so shared one, as values and as
// member names.
func TestCanonicalKeepsEveryStringApart(t *testing.T) {
	groups := [][]string{ // each: one string, written in every way listed
		{`"\ud800"`, `"\uD800"`},
		{`"\udfff"`, `"\uDFFF"`},
		{`"\udbff"`},
		{`"\udc00"`},
		{`"\ufffd"`, `"\uFFFD"`, "\"\uFFFD\""},
		{`"\ud800\ud800"`},
		{`"\udc00\ud800"`}, // a low then a high: two lone surrogates, not a pair
		{`"\ud800\udc00"`, `"\uD800\uDC00"`, "\"\U00010000\""},
		{`"\ud83d\ude00"`, "\"\U0001F600\""},
		{`"\ud83d"`},
		{`"\ude00"`},
		{`"\ud800x"`},
		{`"x\ud800"`},
		{`"\ud800\u0041"`, `"\ud800A"`},
		{`"\\ud800"`, `"\u005cud800"`}, // the six characters \ u d 8 0 0
		{`"A"`, `"\u0041"`},
		{`"\n"`, `"\u000a"`, `"\u000A"`},
		{`"\""`, `"\u0022"`},
		{`"\/"`, `"/"`, `"\u002f"`},
		{"\"\xed\xa0\x80\""}, // raw bytes of a surrogate: invalid UTF-8, kept as sent
		{"\"\xff\""},
	}
	for _, where := range []struct {
		name string
		wrap func(lit string) string
	}{
		{"value", func(lit string) string { return `{"model":"m","messages":[{"role":"user","content":` + lit + `}]}` }},
		{"member name", func(lit string) string { return `{"model":"m","tools":{` + lit + `:1}}` }},
		{"top-level member name", func(lit string) string { return `{"model":"m",` + lit + `:1}` }},
	} {
		t.Run(where.name, func(t *testing.T) {
			forms := map[string]int{}
			for i, g := range groups {
				want := canonical([]byte(where.wrap(g[0])))
				for _, lit := range g[1:] {
					if got := canonical([]byte(where.wrap(lit))); got != want {
						t.Errorf("%s and %s are one string, with two forms: %s, %s", g[0], lit, want, got)
					}
				}
				if j, ok := forms[want]; ok {
					t.Errorf("%s and %s share the canonical form %s", groups[j][0], g[0], want)
				}
				forms[want] = i
			}
		})
	}
}

// TestCanonicalSurrogateKeysKeepTheirOrder: member names that decode to
// one name (two lone surrogates are both U+FFFD to encoding/json, which
// keeps the last) stay in the order sent, so the last still wins and
// the two orders never share a form.
func TestCanonicalSurrogateKeysKeepTheirOrder(t *testing.T) {
	a := canonical([]byte(`{"x":{"\ud800":1,"\udfff":2}}`))
	b := canonical([]byte(`{"x":{"\udfff":2,"\ud800":1}}`))
	if a == b {
		t.Errorf("both orders have the form %s", a)
	}
	if a != `{"x":{"\ud800":1,"\udfff":2}}` {
		t.Errorf("form %s", a)
	}
}

// FuzzCanonical checks the canonical form of any JSON object: it is
// JSON equal to the input without the ignored members; reordering the
// members and reindenting does not change it; changing, adding or removing
// any member that is not ignored does; and any two of its strings (values
// or member names) share a form exactly when they are the same string.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0}`,
		`{"a":[1,2.50,-3e5,true,false,null],"b":{"c":"\u00e9\n\t\"","d":{}},"stream":true}`,
		`{"model":"x","messages":[],"metadata":{"user_id":"u"},"user":"me","stream_options":{}}`,
		`{"k":"\ud83d\ude00","K":"é","":""}`,
		`{"a":1,"a":2}`,
		// The probe of issue 24: lone surrogates collided.
		`{"model":"m","messages":[{"role":"user","content":"\ud800"}],"temperature":0}`,
		`{"model":"m","messages":[{"role":"user","content":"\udfff"}],"temperature":0}`,
		`{"a":"\ud800","b":"\udfff","c":"\ufffd","d":"\uFFFD","e":"�"}`,
		`{"\ud800":1,"\udfff":2,"\ufffd":3}`,
		`{"a":["\ud800\udc00","\udc00\ud800","\ud83d\ude00","😀","\ud83d","\ude00","\\ud800"]}`,
		`{"a":"\ud800\u0041","b":"\ud800A","c":"\u0041","d":"A","e":"\/","f":"/"}`,
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
		for _, k := range ignored {
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
			if slices.Contains(ignored[:], k.Str) {
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
		lits := stringLiterals(gjson.ParseBytes(body), nil)
		for i, a := range lits {
			for _, b := range lits[i+1:] {
				same := slices.Equal(codeUnits(a), codeUnits(b))
				for _, wrap := range []func(string) string{
					func(lit string) string { return `{"v":` + lit + `}` },
					func(lit string) string { return `{"v":{` + lit + `:0}}` }, // not top level: no member ignored
				} {
					if ca, cb := canonical([]byte(wrap(a))), canonical([]byte(wrap(b))); (ca == cb) != same {
						t.Fatalf("strings %s and %s (same: %v) have forms %s and %s", a, b, same, ca, cb)
					}
				}
			}
		}
	})
}

// stringLiterals appends the literals (as written) of v's strings and
// member names, at most 12 of them.
func stringLiterals(v gjson.Result, dst []string) []string {
	switch {
	case len(dst) >= 12:
	case v.Type == gjson.String:
		dst = append(dst, v.Raw)
	case v.IsObject() || v.IsArray():
		v.ForEach(func(k, val gjson.Result) bool {
			if k.Type == gjson.String {
				dst = append(dst, k.Raw)
			}
			dst = stringLiterals(val, dst)
			return len(dst) < 12
		})
	}
	return dst
}

// codeUnits is what a JSON string literal means, decoded independently of
// the code under test: its UTF-16 code units, a \u escape being one unit
// whatever it holds (a lone surrogate included), and a byte of invalid
// UTF-8 a negative value of its own (it is sent as it came).
func codeUnits(lit string) []int32 {
	s := lit[1 : len(lit)-1]
	var out []int32
	for i := 0; i < len(s); {
		if s[i] == '\\' {
			switch e := s[i+1]; e {
			case 'u':
				n, _ := strconv.ParseUint(s[i+2:i+6], 16, 16)
				out = append(out, int32(n))
				i += 6
				continue
			case 'b', 'f', 'n', 'r', 't':
				out = append(out, int32(map[byte]byte{'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}[e]))
			default: // '"', '\\', '/'
				out = append(out, int32(e))
			}
			i += 2
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			out = append(out, -int32(s[i])-1)
		} else {
			for _, u := range utf16.Encode([]rune{r}) {
				out = append(out, int32(u))
			}
		}
		i += n
	}
	return out
}

// reencoded is lit written another way, meaning the same string: every
// character that can be is escaped (<, >, & as encoding/json does, and
// every non-ASCII character and control character as \u escapes, upper
// case), lone surrogates kept as escapes.
func reencoded(lit string) string {
	b := []byte{'"'}
	for _, u := range codeUnits(lit) {
		switch {
		case u < 0:
			b = append(b, byte(-u-1)) // invalid UTF-8, kept
		case u == '"' || u == '\\':
			b = append(b, '\\', byte(u))
		case u < 0x20 || u > 0x7e || u == '<' || u == '>' || u == '&':
			b = fmt.Appendf(b, `\u%04X`, u)
		default:
			b = append(b, byte(u))
		}
	}
	return string(append(b, '"'))
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
		if strings.ContainsRune(`.*?|#@\!=<>%:,"[]{}`, r) {
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
// and strings escaped another way (reencoded).
func reversed(body []byte) []byte {
	var b bytes.Buffer
	var walk func(v gjson.Result)
	walk = func(v gjson.Result) {
		switch {
		case v.IsObject():
			var keys []string
			var vals []gjson.Result
			v.ForEach(func(k, val gjson.Result) bool { keys, vals = append(keys, k.Raw), append(vals, val); return true })
			b.WriteByte('{')
			for i := len(keys) - 1; i >= 0; i-- {
				b.WriteString(reencoded(keys[i]))
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
			b.WriteString(reencoded(v.Raw))
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

// appendCanonicalGJSON is AppendCanonical as it was written before
// canonScan, on gjson's parse: the reference FuzzCanonicalScan holds
// canonScan to. It appends the canonical form of the JSON value v to dst
// (see AppendCanonical); at the top level (top) the ignored members are
// left out.
func appendCanonicalGJSON(dst []byte, v gjson.Result, top bool) []byte {
	switch {
	case v.IsObject():
		type member struct {
			key, raw string // decoded (the order), as written (the output)
			val      gjson.Result
		}
		var small [16]member // most objects: no allocation
		ms := small[:0]
		v.ForEach(func(k, val gjson.Result) bool {
			if !top || !slices.Contains(ignored[:], k.Str) {
				ms = append(ms, member{k.Str, k.Raw, val})
			}
			return true
		})
		slices.SortStableFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
		dst = append(dst, '{')
		for i, m := range ms {
			if i > 0 {
				dst = append(dst, ',')
			}
			// The key as written, canonically escaped: the decoded key
			// (m.key) has lost its lone surrogates.
			dst = appendLiteral(dst, m.raw)
			dst = append(dst, ':')
			dst = appendCanonicalGJSON(dst, m.val, false)
		}
		return append(dst, '}')
	case v.IsArray():
		dst = append(dst, '[')
		first := true
		v.ForEach(func(_, val gjson.Result) bool {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendCanonicalGJSON(dst, val, false)
			return true
		})
		return append(dst, ']')
	case v.Type == gjson.String:
		return appendLiteral(dst, v.Raw)
	default:
		return append(dst, v.Raw...)
	}
}

// FuzzCanonicalScan: the one-pass canonical form (canonScan) is byte for
// byte the one gjson's parse gave (appendCanonicalGJSON) for every valid
// JSON text, and reads anything else without a panic.
func FuzzCanonicalScan(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0}`,
		`{"a":[1,2.50,-3e5,true,false,null],"b":{"c":"\u00e9\n\t\"","d":{}},"stream":true}`,
		`{"model":"x","messages":[],"metadata":{"user_id":"u"},"user":"me","stream_options":{}}`,
		` { "z" : [ { "b" : 1 , "a" : [ ] } , "s\\\"" ] , "\u0061" : 1 , "a" : 2 , "stream" : { "x" : [1,{"y":2}] } } `,
		`{"\ud800":1,"\udfff":2,"\ufffd":3,"b\"":{"d":1,"c":2},"b":0}`,
		`{"a":["\ud800\udc00","\udc00\ud800","\ud83d\ude00","😀","\ud83d","\ude00","\\ud800"]}`,
		`[{"b":1,"a":2},3]`, `"x"`, `1`, `{"a":{"b":{"c":{"e":1,"d":2},"a":0}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := AppendCanonical(nil, body) // no panic, whatever body is
		if !gjson.ValidBytes(body) {
			return
		}
		want := appendCanonicalGJSON(nil, gjson.ParseBytes(body), true)
		if !bytes.Equal(got, want) {
			t.Fatalf("canonical form of %s\n got %s\nwant %s", body, got, want)
		}
	})
}
