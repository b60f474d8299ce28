package responses

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// decodeNamed is decodeWithExtra for type A (a method-less alias) whose
// errors name the member at fault: when decoding fails, the members are
// decoded one by one and the first that fails (in name order) is named.
func decodeNamed[A any](data []byte, v *A, known *openai.FieldSet) (map[string]json.RawMessage, error) {
	extra, err := openai.DecodeWithExtra(data, v, known)
	if err == nil {
		return extra, nil
	}
	if f, ok := err.(*openai.MemberFault); ok {
		// A member of this object (or of a struct it holds) that differs
		// from a known one only in case; nested objects that decode
		// themselves have turned theirs into a ParamError already.
		return nil, memberError(f)
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(data, &members) != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(members)) {
		if !known.Has(name) {
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

// memberError is a MemberFault as a ParamError relative to the object
// being decoded, which the levels above prefix with their own path.
func memberError(f *openai.MemberFault) *ParamError {
	return &ParamError{Param: f.Param(), Message: strings.TrimSuffix(f.Message(), ".")}
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
