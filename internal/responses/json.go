package responses

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

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
		buf.Write(appendString(nil, k))
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

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Like openai.Marshal it does not
// escape <, > and &; invalid UTF-8 becomes U+FFFD, as encoding/json does.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
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
	return appendString(appendKey(dst, name), value)
}

func appendIntField(dst []byte, name string, v int) []byte {
	return strconv.AppendInt(appendKey(dst, name), int64(v), 10)
}

func appendRawField(dst []byte, name string, raw []byte) []byte {
	return append(appendKey(dst, name), raw...)
}
