package responses

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// fieldSet is the set of JSON member names a struct type models itself.
type fieldSet map[string]struct{}

// jsonFields lists the JSON names of T's tagged fields.
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

// decodeWithExtra decodes data into v (a pointer to a method-less alias)
// and returns the members known does not list.
func decodeWithExtra(data []byte, v any, known fieldSet) (map[string]json.RawMessage, error) {
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

// decodeNamed is decodeWithExtra for type A (a method-less alias) whose
// errors name the member at fault: when decoding fails, the members are
// decoded one by one and the first that fails (in name order) is named.
func decodeNamed[A any](data []byte, v *A, known fieldSet) (map[string]json.RawMessage, error) {
	extra, err := decodeWithExtra(data, v, known)
	if err == nil {
		return extra, nil
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(data, &members) != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(members)) {
		if _, ok := known[name]; !ok {
			continue
		}
		one, _ := json.Marshal(map[string]json.RawMessage{name: members[name]})
		var probe A
		if e := json.Unmarshal(one, &probe); e != nil {
			return nil, wrapParam(name, stripField(e, name))
		}
	}
	return nil, err
}

// encodeWithExtra encodes v (a method-less alias) followed by the extra
// members in sorted order; a typed field wins over an extra of its name.
func encodeWithExtra(v any, extra map[string]json.RawMessage, known fieldSet) ([]byte, error) {
	b, err := openai.Marshal(v)
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
	buf := bytes.NewBuffer(b[:len(b)-1])
	for _, k := range keys {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		buf.Write(openai.AppendString(nil, k))
		buf.WriteByte(':')
		raw := extra[k]
		if len(raw) == 0 {
			raw = json.RawMessage("null")
		}
		if err := json.Compact(buf, raw); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// appendKey appends ,"name": (the comma only when dst does not end an
// opening brace).
func appendKey(dst []byte, name string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

func appendStringField(dst []byte, name, value string) []byte {
	return openai.AppendString(appendKey(dst, name), value)
}

func appendIntField(dst []byte, name string, v int) []byte {
	return strconv.AppendInt(appendKey(dst, name), int64(v), 10)
}

func appendRawField(dst []byte, name string, raw []byte) []byte {
	return append(appendKey(dst, name), raw...)
}
