package openai

import (
	"strconv"
	"strings"
	"sync"

	"github.com/tidwall/gjson"
)

// tape is a JSON document read once into a flat list of its tokens, each
// knowing where its value ends in the list, so that walking an object's
// members skips a nested value in one step: the validator visits every
// value once instead of rescanning each nested value at every level, as
// walking gjson.Results does (a 2 kB request five levels deep was read
// about five times).
type tape struct {
	s     string
	toks  []tok
	stack []int32
	wide  bool // scanTape: some string has a byte that is not ASCII
	// text is the unescaped length of every string value, member names
	// not counted (TextBytes), counted by scanTape as it reads them; -1
	// for a tape readTape read, or one whose scan failed.
	text int
	chk  memberCheck
}

// tok is one token: a value, or an object member's name (followed by its
// value).
type tok struct {
	kind       byte  // '{', '[', '"', 't', 'f', 'n', or '0' for a number
	esc        bool  // a string with escapes
	class      uint8 // a member name scanTape classed: nameRead|nameUpper|nameWide
	start, end int32 // the raw text, s[start:end]
	next       int32 // the index of the token after this value
}

var tapes = sync.Pool{New: func() any { return new(tape) }}

// readTape reads s, which must be valid JSON (ValidJSON), into a tape
// from the pool; the caller returns it with putTape.
func readTape(s string) *tape {
	t := tapes.Get().(*tape)
	t.s, t.toks, t.stack, t.text = s, t.toks[:0], t.stack[:0], -1
	// At most maxTapeValues tokens, as scanTape: the rest of a body that
	// large (an upstream's chunk may be 32 MiB) is not read.
	for i := 0; i < len(s) && len(t.toks) < maxTapeValues; {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\r', ',', ':':
			i++
		case '{', '[':
			t.stack = append(t.stack, int32(len(t.toks)))
			t.toks = pushTok(t.toks, c, false, i, 0)
			i++
		case '}', ']':
			if len(t.stack) == 0 { // not valid JSON: the caller broke the contract
				i++
				continue
			}
			j := t.stack[len(t.stack)-1]
			t.stack = t.stack[:len(t.stack)-1]
			t.toks[j].end, t.toks[j].next = int32(i+1), int32(len(t.toks))
			i++
		case '"':
			start, esc := i, false
			i++
			for {
				q := strings.IndexByte(s[i:], '"')
				if q < 0 { // not valid JSON: the caller broke the contract
					i = len(s)
					break
				}
				if b := strings.IndexByte(s[i:i+q], '\\'); b >= 0 {
					esc = true
					i += b + 2
					continue
				}
				i += q + 1
				break
			}
			t.toks = pushTok(t.toks, '"', esc, start, i)
		default:
			start := i
			for i < len(s) && !delimiter(s[i]) {
				i++
			}
			kind := c
			if c != 't' && c != 'f' && c != 'n' {
				kind = '0'
			}
			t.toks = pushTok(t.toks, kind, false, start, i)
		}
	}
	for _, j := range t.stack { // unclosed (not valid JSON): end at the end
		t.toks[j].end, t.toks[j].next = int32(len(s)), int32(len(t.toks))
	}
	return t
}

func delimiter(c byte) bool {
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':'
}

// putTape returns t to the pool, keeping its buffers unless a large
// document grew them.
func putTape(t *tape) {
	if cap(t.toks) > 1<<16 || cap(t.chk.frames) > 1<<10 || cap(t.chk.buf)+cap(t.chk.buf2) > 1<<12 {
		return
	}
	t.s = ""
	tapes.Put(t)
}

// root is the document's value.
func (t *tape) root() val {
	if len(t.toks) == 0 {
		return val{}
	}
	return t.val(0)
}

// val is one value of a tape, with the methods of a gjson.Result the
// validator reads: Type, Raw, Str (strings, unescaped as encoding/json
// does) and Num (numbers). The zero val does not exist, as gjson's zero
// Result.
type val struct {
	t *tape
	i int32 // the token's index + 1; 0: no value
}

func (t *tape) val(i int32) val { return val{t: t, i: i + 1} }

func (v val) tok() *tok { return &v.t.toks[v.i-1] }

// Type is v's JSON type (gjson.JSON for objects and arrays).
func (v val) Type() gjson.Type {
	if v.i == 0 {
		return gjson.Null
	}
	switch v.tok().kind {
	case '{', '[':
		return gjson.JSON
	case '"':
		return gjson.String
	case 't':
		return gjson.True
	case 'f':
		return gjson.False
	case 'n':
		return gjson.Null
	}
	return gjson.Number
}

// Raw is v's text.
func (v val) Raw() string {
	if v.i == 0 {
		return ""
	}
	k := v.tok()
	return v.t.s[k.start:k.end]
}

// Str is a string's text, unescaped as encoding/json does; "" for other
// values.
func (v val) Str() string {
	if v.i == 0 || v.tok().kind != '"' {
		return ""
	}
	raw := v.Raw()
	if !v.tok().esc && len(raw) >= 2 {
		return raw[1 : len(raw)-1]
	}
	s, _ := Unquote(raw)
	return s
}

// Num is a number's value; 0 for other values.
func (v val) Num() float64 {
	if v.i == 0 || v.tok().kind != '0' {
		return 0
	}
	n, _ := strconv.ParseFloat(v.Raw(), 64)
	return n
}

// Exists reports whether v is a value (not a member that was not given).
func (v val) Exists() bool { return v.i > 0 }

// IsObject reports whether v is an object.
func (v val) IsObject() bool { return v.i > 0 && v.tok().kind == '{' }

// IsArray reports whether v is an array.
func (v val) IsArray() bool { return v.i > 0 && v.tok().kind == '[' }

// ForEach calls f with each member of an object (name, value) or each
// element of an array (a zero name), in order, until f returns false.
func (v val) ForEach(f func(k, e val) bool) {
	if v.i == 0 || v.tok().kind != '{' && v.tok().kind != '[' {
		return
	}
	t := v.t
	end := t.toks[v.i-1].next
	if t.toks[v.i-1].kind == '{' {
		for j := v.i; j+1 < end; j = t.toks[j+1].next {
			if !f(t.val(j), t.val(j+1)) {
				return
			}
		}
		return
	}
	for j := v.i; j < end; j = t.toks[j].next {
		if !f(val{}, t.val(j)) {
			return
		}
	}
}

// Get returns the first member of an object named name, or the zero val.
func (v val) Get(name string) val {
	t := v.t
	for j, end := v.members(); j < end; j = t.nextMember(j) {
		if t.name(j) == name {
			return t.val(j + 1)
		}
	}
	return val{}
}

// Len is the number of an array's elements.
func (v val) Len() int {
	n := 0
	for j, end := v.elems(); j < end; j = v.t.toks[j].next {
		n++
	}
	return n
}

// members is tape.members of v: the validator's loops over an object's
// members, closure-free (a ForEach callback is a call per member).
func (v val) members() (int32, int32) {
	if v.i == 0 {
		return 0, 0
	}
	return v.t.members(v.i - 1)
}

// elems is tape.elems of v.
func (v val) elems() (int32, int32) {
	if v.i == 0 {
		return 0, 0
	}
	return v.t.elems(v.i - 1)
}

// Closure-free iteration, for the per-event paths (a ForEach callback is
// a call that is not inlined, per member):
//
//	for j, end := t.members(v); j < end; j = t.nextMember(j) { name, value := t.name(j), j+1 }
//	for j, end := t.elems(v); j < end; j = t.toks[j].next { element := j }
//
// An object's members and an array's elements are visited as ForEach
// visits them, on the same guards (a trusting reader's tape of a body
// that is not JSON included).

// members returns the index of the first member name of the object token
// v and the end of its members; an empty range for anything else.
func (t *tape) members(v int32) (int32, int32) {
	if v < 0 || int(v) >= len(t.toks) || t.toks[v].kind != '{' {
		return 0, 0
	}
	return v + 1, t.toks[v].next - 1
}

// nextMember returns the index of the member name after the one at j.
func (t *tape) nextMember(j int32) int32 { return t.toks[j+1].next }

// elems returns the index of the first element of the array token v and
// the end of its elements; an empty range for anything else.
func (t *tape) elems(v int32) (int32, int32) {
	if v < 0 || int(v) >= len(t.toks) || t.toks[v].kind != '[' {
		return 0, 0
	}
	return v + 1, t.toks[v].next
}

// name is the text of the name token j, its escapes undone.
func (t *tape) name(j int32) string {
	k := &t.toks[j]
	if !k.esc && k.end-k.start >= 2 {
		return t.s[k.start+1 : k.end-1]
	}
	return t.val(j).Str()
}

// str is the string token j's text, unescaped; "" when j is not a string.
func (t *tape) str(j int32) string { return t.val(j).Str() }

// kindOf is token j's kind.
func (t *tape) kindOf(j int32) byte { return t.toks[j].kind }
