package llmbridge

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// cacheIgnored are the top-level request members that do not change the
// answer, left out of the cache key: how it is delivered (stream,
// stream_options) and who the end user is (user, metadata).
var cacheIgnored = [...]string{"stream", "stream_options", "user", "metadata"}

// appendCanonical appends the canonical form of the JSON value v to dst:
// no insignificant whitespace, object members sorted by key (members with
// equal keys keep their order, so the last still wins), every string
// escaped one way (only '"', '\\' and control characters), numbers and
// literals as written. Requests that differ only in member order,
// whitespace or string escaping have one canonical form; any other
// difference shows. At the top level (top) the members of cacheIgnored are
// left out. v must be valid JSON (the request was checked).
func appendCanonical(dst []byte, v gjson.Result, top bool) []byte {
	switch {
	case v.IsObject():
		type member struct {
			key string
			val gjson.Result
		}
		var small [16]member // most objects: no allocation
		ms := small[:0]
		v.ForEach(func(k, val gjson.Result) bool {
			if !top || !slices.Contains(cacheIgnored[:], k.Str) {
				ms = append(ms, member{k.Str, val})
			}
			return true
		})
		slices.SortStableFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
		dst = append(dst, '{')
		for i, m := range ms {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCanonicalString(dst, m.key)
			dst = append(dst, ':')
			dst = appendCanonical(dst, m.val, false)
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
			dst = appendCanonical(dst, val, false)
			return true
		})
		return append(dst, ']')
	case v.Type == gjson.String:
		if !strings.ContainsRune(v.Raw, '\\') {
			return append(dst, v.Raw...) // nothing escaped: already canonical
		}
		return appendCanonicalString(dst, v.Str)
	default:
		return append(dst, v.Raw...)
	}
}

// appendCanonicalString appends s as a JSON string escaped the canonical
// way. Invalid UTF-8 is kept as it is (it hashes as sent).
func appendCanonicalString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		case c < utf8.RuneSelf:
			dst = append(dst, c)
		default:
			_, n := utf8.DecodeRuneInString(s[i:])
			dst = append(dst, s[i:i+n]...)
			i += n
			continue
		}
		i++
	}
	return append(dst, '"')
}
