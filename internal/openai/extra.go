package openai

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"
)

// FieldSet is the set of JSON member names a type models itself, for the
// decoders: what a member of that name holds (when it is a struct the
// decoder fills by name), and every name under case folding, so that a
// member encoding/json would bind although its name differs ("Content"
// for content) is refused rather than read. A FieldSet does not change
// after it is built and is safe for concurrent use.
type FieldSet struct {
	// fields maps a name to the set of its value: nil when nothing below
	// is bound by name (a string, a raw member, a type that decodes
	// itself and checks its own members).
	fields map[string]*FieldSet
	// folded maps a folded name (appendFolded) to the name.
	folded map[string]string
	// object: the set is a struct's. items: the set of an array's
	// elements or a map's values.
	object bool
	items  *FieldSet
	// lower: every name is ASCII without upper-case letters (CheckMembers'
	// fast path).
	lower bool
}

// NewFieldSet is the set of the given top-level names, with nothing known
// below them: a format's request members, for CheckMembers.
func NewFieldSet(names ...string) *FieldSet {
	s := &FieldSet{fields: map[string]*FieldSet{}, folded: map[string]string{}, object: true, lower: true}
	for _, n := range names {
		s.add(n, nil)
	}
	return s
}

func (s *FieldSet) add(name string, sub *FieldSet) {
	for _, c := range []byte(name) {
		if 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			s.lower = false
		}
	}
	s.fields[name] = sub
	s.folded[string(appendFolded(nil, name))] = name
}

// Names are the set's names, sorted: what a hand-written decoder of the
// type must know, in its tests.
func (s *FieldSet) Names() []string { return slices.Sorted(maps.Keys(s.fields)) }

// Has reports whether name is one of the set's names, exactly.
func (s *FieldSet) Has(name string) bool {
	_, ok := s.fields[name]
	return ok
}

// Variant returns the name of the set that name equals under case folding
// when name is not itself one of them ("Model" → "model", true).
func (s *FieldSet) Variant(name string) (string, bool) {
	if _, ok := s.fields[name]; ok {
		return "", false
	}
	return s.foldsOnto(name)
}

// CheckName is Variant as a refusal: a *MemberFault naming name when it
// differs from a name of the set only in case, otherwise nil.
func (s *FieldSet) CheckName(name string) *MemberFault {
	if known, ok := s.Variant(name); ok {
		return caseFault(name, known)
	}
	return nil
}

// foldsOnto returns the name of the set that name equals under folding.
func (s *FieldSet) foldsOnto(name string) (string, bool) {
	var buf [64]byte
	known, ok := s.folded[string(appendFolded(buf[:0], name))]
	return known, ok
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// JSONFields is the FieldSet of T: the JSON names of its fields (those
// with a json tag other than "-"), and below each the set of a struct it
// holds (directly, through pointers, slices, arrays or map values) that
// encoding/json fills by name. A type that implements json.Unmarshaler
// decodes itself and is not looked into: its UnmarshalJSON checks its own
// members (DecodeWithExtra). Built once per type, when the package is
// initialised.
func JSONFields[T any]() *FieldSet { return JSONFieldsOf(reflect.TypeFor[T]()) }

// JSONFieldsOf is JSONFields for a type known at run time (the type of
// an anonymous struct's field, say).
func JSONFieldsOf(t reflect.Type) *FieldSet {
	s := fieldSetOf(t, map[reflect.Type]bool{})
	if s == nil {
		s = NewFieldSet()
	}
	return s
}

func fieldSetOf(t reflect.Type, building map[reflect.Type]bool) *FieldSet {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if building[t] || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return nil // []byte is a base64 string
		}
		if items := fieldSetOf(t.Elem(), building); items != nil {
			return &FieldSet{items: items}
		}
		return nil
	case reflect.Struct:
	default:
		return nil
	}
	building[t] = true
	defer delete(building, t)
	s := NewFieldSet()
	addFields(s, t, building)
	return s
}

// addFields adds t's tagged fields to s, those of embedded structs
// included (encoding/json promotes them).
func addFields(s *FieldSet, t reflect.Type, building map[reflect.Type]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case name != "":
			s.add(name, fieldSetOf(f.Type, building))
		case f.Anonymous && f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(unmarshalerType):
			addFields(s, f.Type, building)
		}
	}
}

// check refuses a member of v, at any depth the set knows, that folds onto
// a name of its object's set without being it.
func (s *FieldSet) check(v gjson.Result) *MemberFault {
	var f *MemberFault
	switch {
	case s.object && v.IsObject():
		v.ForEach(func(k, m gjson.Result) bool {
			f = s.member(k.Str, m)
			return f == nil
		})
	case s.items != nil && v.IsObject():
		v.ForEach(func(k, m gjson.Result) bool {
			f = s.items.check(m).in(k.Str)
			return f == nil
		})
	case s.items != nil && v.IsArray():
		i := 0
		v.ForEach(func(_, e gjson.Result) bool {
			f = s.items.check(e).at(i)
			i++
			return f == nil
		})
	}
	return f
}

// member checks one member of an object of s's; unknown members pass.
func (s *FieldSet) member(name string, v gjson.Result) *MemberFault {
	sub, ok := s.fields[name]
	switch {
	case ok && sub != nil:
		return sub.check(v).in(name)
	case ok:
		return nil
	}
	if known, ok := s.foldsOnto(name); ok {
		return caseFault(name, known)
	}
	return nil
}

// view parses a read-only view of data, not a copy: nothing the decoders
// keep refers to it (extra members are copied out, faults clone the names
// they quote).
func view(data []byte) gjson.Result {
	if len(data) == 0 {
		return gjson.Result{}
	}
	return gjson.Parse(unsafe.String(unsafe.SliceData(data), len(data)))
}

// DecodeExact decodes data into v as json.Unmarshal does, after refusing
// with a *MemberFault any member, at a depth known's set reaches, whose
// name folds onto a name of its object without being it: encoding/json
// would bind it to that field, unseen by whatever read the JSON by exact
// names. known is JSONFields of v's type.
func DecodeExact(data []byte, v any, known *FieldSet) error {
	if f := known.check(view(data)); f != nil {
		return f
	}
	return json.Unmarshal(data, v)
}

// DecodeExactFast is DecodeExact with a hand-written decoder tried first.
// data is read once onto a tape, which the member check walks (a member
// name with an escape sends the check back to DecodeExact's reading);
// when data is valid JSON and passes the check, fast reads its root into
// v and reports true, or reports false, leaving v as it was, and
// json.Unmarshal decodes data instead (with its errors). Data that is not
// valid JSON, or holds more values than a tape does (maxTapeValues), is
// decoded by DecodeExact. fast must read exactly what json.Unmarshal
// would, and copy the strings it keeps: the root refers to data. valid
// says that data is known to be valid JSON (a json.RawMessage a decoder
// filled), which is then not checked again.
func DecodeExactFast(data []byte, v any, known *FieldSet, valid bool, fast func(root Value) bool) error {
	var t *tape
	ok := false
	if valid {
		t, ok = readTape(unsafe.String(unsafe.SliceData(data), len(data))), true
	} else {
		t, ok = scanTape(data)
	}
	defer putTape(t)
	if !ok || len(t.toks) == 0 || t.tooManyValues() {
		return DecodeExact(data, v, known)
	}
	f, checked := known.checkValue(t.root())
	if !checked { // a name with an escape: gjson's reading decides, as before
		f = known.check(view(data))
	}
	if f != nil {
		return f
	}
	if fast(Value{t.root()}) {
		return nil
	}
	return json.Unmarshal(data, v)
}

// DecodeWithExtra decodes data into v (a pointer to a method-less alias of
// the real type) and returns the members of data that known does not list
// (nil when there are none), for types that keep what they do not model.
// A member whose name folds onto a known one without being it is refused
// with a *MemberFault, as DecodeExact refuses it.
func DecodeWithExtra(data []byte, v any, known *FieldSet) (map[string]json.RawMessage, error) {
	// One pass finds the unknown members (without building a map of all
	// of them: most objects have none) and the refused ones.
	var extra map[string]json.RawMessage
	var f *MemberFault
	root := view(data)
	if !root.IsObject() {
		// null (a no-op for encoding/json) has no members; gjson's ForEach
		// would hand it over as one value named "", an unknown member ""
		// that the encoder then wrote out as "":null.
		return nil, json.Unmarshal(data, v)
	}
	root.ForEach(func(k, m gjson.Result) bool {
		sub, ok := known.fields[k.Str]
		switch {
		case ok && sub != nil:
			f = sub.check(m).in(k.Str)
		case ok:
		default:
			if other, clash := known.foldsOnto(k.Str); clash {
				f = caseFault(k.Str, other)
				break
			}
			if extra == nil {
				extra = map[string]json.RawMessage{}
			}
			extra[k.Str] = json.RawMessage(m.Raw)
		}
		return f == nil
	})
	if f != nil {
		return nil, f
	}
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	return extra, nil
}

// Marshal is json.Marshal without HTML escaping: "<b>" stays "<b>" rather
// than "\u003cb\u003e", so text the bridge re-encodes reads as it was sent.
//
// A *ChatChunk, which streams encode per event, and a ChatRequest (or
// *ChatRequest), which every translated request becomes, are written by
// hand (appendChunk, appendRequest) into one buffer, byte for byte what
// encoding/json writes.
func Marshal(v any) ([]byte, error) {
	switch c := v.(type) {
	case *ChatChunk:
		if c != nil {
			if b, ok := appendChunk(make([]byte, 0, chunkSizeHint(c)), c); ok {
				return b, nil
			}
		}
	case *ChatRequest:
		if c != nil {
			if b, ok := appendRequest(make([]byte, 0, requestSizeHint(c)), c); ok {
				return b, nil
			}
		}
	case ChatRequest:
		if b, ok := appendRequest(make([]byte, 0, requestSizeHint(&c)), &c); ok {
			return b, nil
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// EncodeWithExtra encodes v (a method-less alias) and appends the extra
// members in sorted order. Extra members whose names v already wrote are
// skipped: the typed field wins. Extra values must be valid JSON.
func EncodeWithExtra(v any, extra map[string]json.RawMessage, known *FieldSet) ([]byte, error) {
	b, err := Marshal(v)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if !known.Has(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	buf := bytes.NewBuffer(b[:len(b)-1]) // drop the closing brace
	for _, k := range keys {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		buf.Write(AppendString(nil, k))
		buf.WriteByte(':')
		raw := extra[k]
		if len(raw) == 0 {
			raw = json.RawMessage("null")
		}
		if err := json.Compact(buf, raw); err != nil {
			return nil, &json.MarshalerError{Type: reflect.TypeOf(v), Err: err}
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
