package openai

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
)

// fieldSet is the set of JSON member names a struct type models itself.
type fieldSet map[string]struct{}

// jsonFields lists the JSON names of T's fields (those with a json tag other
// than "-"). It is used once per type, at package initialisation.
func jsonFields[T any]() fieldSet {
	t := reflect.TypeFor[T]()
	set := fieldSet{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			set[name] = struct{}{}
		}
	}
	return set
}

// decodeWithExtra decodes data into v (a pointer to a method-less alias of
// the real type) and returns the members of data that known does not list.
func decodeWithExtra(data []byte, v any, known fieldSet) (map[string]json.RawMessage, error) {
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, err
	}
	for k := range all {
		if _, ok := known[k]; ok {
			delete(all, k)
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	return all, nil
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

// encodeWithExtra encodes v (a method-less alias) and appends the extra
// members in sorted order. Extra members whose names v already wrote are
// skipped: the typed field wins. Extra values must be valid JSON.
func encodeWithExtra(v any, extra map[string]json.RawMessage, known fieldSet) ([]byte, error) {
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
		name, _ := Marshal(k)
		buf.Write(name)
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
