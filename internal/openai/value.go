package openai

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Value is one value of a JSON document read once onto a tape, for the
// hand-written request decoders (DecodeExactFast): walking an object's
// members skips a nested value in one step, and a string is unescaped
// only when it is read. Walking gjson.Results instead rescans each
// nested value at every level and unescapes every string it passes, so
// a coding agent's request, whose tool results are code full of escapes,
// was read many times over. A Value is valid only during the call it is
// given to.
type Value struct{ v val }

// Type is v's JSON type (gjson.JSON for objects and arrays).
func (v Value) Type() gjson.Type { return v.v.Type() }

// Raw is v's JSON text.
func (v Value) Raw() string { return v.v.Raw() }

// IsObject reports whether v is an object.
func (v Value) IsObject() bool { return v.v.IsObject() }

// IsArray reports whether v is an array.
func (v Value) IsArray() bool { return v.v.IsArray() }

// Exists reports whether v is a value (Get of a member not given is not).
func (v Value) Exists() bool { return v.v.Exists() }

// Str is a string's text: with escapes, unescaped into a copy as
// encoding/json does (invalid UTF-8 becomes U+FFFD); without, a view of
// the document's own bytes (the caller's body, valid as long as it is,
// and as it is: invalid UTF-8 stays); "" for other values.
func (v Value) Str() string { return v.v.Str() }

// Get returns the first member of the object v whose name is exactly
// name (no case folding, as gjson), or a Value that does not exist.
func (v Value) Get(name string) Value { return Value{v.v.Get(name)} }

// ForEach calls f with each member of an object (name, value) or each
// element of an array (a name that does not exist), in order, until f
// returns false.
func (v Value) ForEach(f func(k, e Value) bool) {
	v.v.ForEach(func(k, e val) bool { return f(Value{k}, Value{e}) })
}

// ReadMembers calls f for each member of the object o whose name is one
// of names (with its index in names), as json.Unmarshal would fill a
// struct whose JSON names are names; null values too (f decides). Other
// members are put in *extra, copied (the map made at the first), when
// extra is not nil (a type that keeps them, as DecodeWithExtra), and
// skipped otherwise. It reports false — the caller then leaves the value
// to encoding/json — when o is not an object, when f does, when a known
// name comes twice (encoding/json merges objects), when another member's
// name equals one of names under case folding (encoding/json would bind
// it), or when a name has an escape. names has at most 64 entries, all
// ASCII (as Go's JSON names are).
func ReadMembers(o Value, names []string, f func(i int, v Value) bool, extra *map[string]json.RawMessage) bool {
	return readMembers(o, names, f, extra, true)
}

// readMembers is ReadMembers; with clone false, the names and values it
// puts in *extra are views of o's text (a buffer the caller keeps and
// nothing writes to, as a ChunkDecoder's copy).
func readMembers(o Value, names []string, f func(i int, v Value) bool, extra *map[string]json.RawMessage, clone bool) bool {
	if !o.IsObject() || len(names) > 64 {
		return false
	}
	t := o.v.t
	var seen uint64
	for j, end := o.v.members(); j < end; j = t.nextMember(j) {
		k := &t.toks[j]
		if k.esc {
			return false
		}
		name, v := t.s[k.start+1:k.end-1], Value{t.val(j + 1)}
		i := -1
		for n, known := range names {
			if known == name {
				i = n
				break
			}
		}
		switch {
		case i >= 0:
			if seen&(1<<i) != 0 {
				return false
			}
			seen |= 1 << i
			if !f(i, v) {
				return false
			}
		default:
			// An ASCII name folds only onto a name of its length (the
			// known names are ASCII); others, which may fold across byte
			// lengths (K, ſ), are compared with every name.
			ascii := isASCII(name)
			for _, known := range names {
				if (!ascii || len(known) == len(name)) && strings.EqualFold(known, name) {
					return false
				}
			}
			if extra != nil {
				if *extra == nil {
					*extra = map[string]json.RawMessage{}
				}
				if clone {
					(*extra)[strings.Clone(name)] = v.ReadRaw()
				} else {
					(*extra)[name] = rawView(v.Raw())
				}
			}
		}
	}
	return true
}

// ReadArray reads the array v into *dst, each element by elem, into a new
// slice (an empty one for [], as json.Unmarshal makes); false, with *dst
// untouched, for anything else or when elem fails.
func ReadArray[T any](v Value, dst *[]T, elem func(Value, *T) bool) bool {
	if !v.IsArray() {
		return false
	}
	t := v.v.t
	j, end := v.v.elems()
	out := make([]T, 0, 4)
	for ; j < end; j = t.toks[j].next {
		out = append(out, *new(T))
		if !elem(Value{t.val(j)}, &out[len(out)-1]) {
			return false
		}
	}
	*dst = out
	return true
}

// EachElem calls f with each element of the array v, in order, until f
// returns false; it reports false when v is not an array or f did. It is
// ReadArray for a reader that reuses its own slice.
func EachElem(v Value, f func(Value) bool) bool {
	if !v.IsArray() {
		return false
	}
	t := v.v.t
	for j, end := v.v.elems(); j < end; j = t.toks[j].next {
		if !f(Value{t.val(j)}) {
			return false
		}
	}
	return true
}

// ReadString reads a JSON string into *dst as json.Unmarshal does, as a
// copy (the document's text is the caller's buffer); false for any other
// value.
func (v Value) ReadString(dst *string) bool {
	if v.Type() != gjson.String {
		return false
	}
	// Unquote makes invalid UTF-8 U+FFFD, as encoding/json reads it, and
	// returns a string without escapes as raw's own bytes: copied.
	raw := v.Raw()
	s, ok := Unquote(raw)
	if ok && len(s) > 0 && unsafe.StringData(s) == unsafe.StringData(raw[1:]) {
		s = strings.Clone(s)
	}
	*dst = s
	return ok
}

// ReadStringView reads a JSON string into *dst as json.Unmarshal reads it
// into a string field, as a view of the document's text where it has no
// escape (for a document its reader keeps and nothing writes to): null
// leaves *dst as it is; false for any other value.
func (v Value) ReadStringView(dst *string) bool {
	switch v.Type() {
	case gjson.Null:
		return true
	case gjson.String:
		s, ok := Unquote(v.Raw())
		*dst = s
		return ok
	}
	return false
}

// ReadStringPtr is ReadString for a *string field.
func (v Value) ReadStringPtr(dst **string) bool {
	var s string
	*dst = &s
	return v.ReadString(&s)
}

// ReadRaw is a copy of v's JSON text, as json.Unmarshal fills a
// json.RawMessage (null included).
func (v Value) ReadRaw() json.RawMessage {
	return json.RawMessage(append([]byte(nil), v.Raw()...))
}

// ReadBool reads true or false into *dst; false for any other value.
func (v Value) ReadBool(dst *bool) bool {
	*dst = v.Type() == gjson.True
	return v.Type() == gjson.True || v.Type() == gjson.False
}

// ReadBoolPtr is ReadBool for a *bool field.
func (v Value) ReadBoolPtr(dst **bool) bool {
	var b bool
	*dst = &b
	return v.ReadBool(&b)
}

// ReadFloatPtr reads a number into a *float64 field as json.Unmarshal
// does; false for anything else (another type, out of range).
func (v Value) ReadFloatPtr(dst **float64) bool {
	if v.Type() != gjson.Number {
		return false
	}
	f, err := strconv.ParseFloat(v.Raw(), 64)
	*dst = &f
	return err == nil
}

// ReadInt reads an integer that fits an int into *dst, as json.Unmarshal
// does; false for anything else (a fraction, an exponent, another type).
func (v Value) ReadInt(dst *int) bool {
	if v.Type() != gjson.Number {
		return false
	}
	n, err := strconv.Atoi(v.Raw())
	*dst = n
	return err == nil
}

// ReadInt64Ptr reads an integer into a *int64 field as json.Unmarshal
// does; false for anything else.
func (v Value) ReadInt64Ptr(dst **int64) bool {
	if v.Type() != gjson.Number {
		return false
	}
	n, err := strconv.ParseInt(v.Raw(), 10, 64)
	*dst = &n
	return err == nil
}

// Unmarshal decodes v into dst with json.Unmarshal, which reads a member
// alone as it reads it in its object: for members too rare or varied to
// read by hand.
func (v Value) Unmarshal(dst any) bool {
	return json.Unmarshal([]byte(v.Raw()), dst) == nil
}

// checkValue is check on a tape, with the same result; ok is false when
// a member name has an escape (check, which reads names with gjson's
// unescaping, is then left to decide).
func (s *FieldSet) checkValue(v val) (f *MemberFault, ok bool) {
	t := v.t
	switch {
	case s.object && v.IsObject():
		for j, end := v.members(); j < end; j = t.nextMember(j) {
			k := &t.toks[j]
			if k.esc {
				return nil, false
			}
			name := t.s[k.start+1 : k.end-1]
			sub, known := s.fields[name]
			switch {
			case known && sub != nil:
				if f, ok = sub.checkValue(t.val(j + 1)); f != nil || !ok {
					return f.in(name), ok
				}
			case !known:
				if other, clash := s.foldsOnto(name); clash {
					return caseFault(name, other), true
				}
			}
		}
	case s.items != nil && v.IsObject():
		for j, end := v.members(); j < end; j = t.nextMember(j) {
			k := &t.toks[j]
			if k.esc {
				return nil, false
			}
			if f, ok = s.items.checkValue(t.val(j + 1)); f != nil || !ok {
				return f.in(t.s[k.start+1 : k.end-1]), ok
			}
		}
	case s.items != nil && v.IsArray():
		i := 0
		for j, end := v.elems(); j < end; j = t.toks[j].next {
			if f, ok = s.items.checkValue(t.val(j)); f != nil || !ok {
				return f.at(i), ok
			}
			i++
		}
	}
	return nil, true
}

// WithValue reads data onto a tape and calls f with its root, which is
// valid only during the call; it reports false, without calling f, when
// data is not valid JSON (json.Valid's answer) or holds more values than
// a tape does.
func WithValue(data []byte, f func(root Value)) bool {
	t, ok := scanTape(data)
	defer putTape(t)
	if !ok || len(t.toks) == 0 {
		return false
	}
	f(Value{t.root()})
	return true
}

// ReadChecked reads body onto a tape, checking in the same pass its member
// names as CheckMembers(body, top) does, and when body is valid JSON calls
// f with its root, CheckMembers' first fault (nil: none) and whether body
// is valid UTF-8: one reading where CheckJSON followed by WithValue are
// two. It returns false when body is not valid JSON, and tooMany (a 413)
// when it holds more values than a tape takes; f is then not called.
func ReadChecked(body []byte, top *FieldSet, f func(root Value, fault *MemberFault, utf8OK bool)) (valid bool, tooMany *APIError) {
	t, ok, fault := scanTapeMembers(body, top)
	defer putTape(t)
	switch {
	case !ok && t.tooManyValues():
		return false, tooManyValuesError()
	case !ok || len(t.toks) == 0:
		return false, nil
	}
	f(Value{t.root()}, fault, !t.wide || utf8.Valid(body))
	return true, nil
}

// isASCII reports whether s has no byte of 0x80 or above.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
