package responses

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// decodeNamed is decodeWithExtra for type A (a method-less alias) whose
// errors name the member at fault: when decoding fails, the members are
// decoded one by one and the first that fails (in name order) is named.
func decodeNamed[A any](data []byte, v *A, known openai.FieldSet) (map[string]json.RawMessage, error) {
	extra, err := openai.DecodeWithExtra(data, v, known)
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
