package openai

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
)

// FieldSet is the set of JSON member names a struct type models itself.
type FieldSet map[string]struct{}

// JSONFields lists the JSON names of T's fields (those with a json tag other
// than "-"). It is used once per type, at package initialisation.
func JSONFields[T any]() FieldSet {
	t := reflect.TypeFor[T]()
	set := FieldSet{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			set[name] = struct{}{}
		}
	}
	return set
}

// DecodeWithExtra decodes data into v (a pointer to a method-less alias of
// the real type) and returns the members of data that known does not list
// (nil when there are none), for types that keep what they do not model.
func DecodeWithExtra(data []byte, v any, known FieldSet) (map[string]json.RawMessage, error) {
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	// Find the unknown members without building a map of all of them:
	// most objects have none.
	var extra map[string]json.RawMessage
	gjson.ParseBytes(data).ForEach(func(k, v gjson.Result) bool {
		if _, ok := known[k.Str]; !ok {
			if extra == nil {
				extra = map[string]json.RawMessage{}
			}
			extra[k.Str] = json.RawMessage(v.Raw)
		}
		return true
	})
	return extra, nil
}

// Marshal is json.Marshal without HTML escaping: "<b>" stays "<b>" rather
// than "\u003cb\u003e", so text the bridge re-encodes reads as it was sent.
func Marshal(v any) ([]byte, error) {
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
func EncodeWithExtra(v any, extra map[string]json.RawMessage, known FieldSet) ([]byte, error) {
	b, err := Marshal(v)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if _, ok := known[k]; !ok {
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
