package codec

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// ignored are the top-level request members that do not change the
// answer, left out of the canonical form: how it is delivered (stream,
// stream_options) and who the end user is (user, metadata).
var ignored = [...]string{"stream", "stream_options", "user", "metadata"}

// AppendCanonical appends the canonical form of the request body to dst
// and returns the extended buffer: its JSON with no insignificant
// whitespace, object members sorted by key (members whose keys decode
// equal keep their order, so the last still wins), every string escaped
// one way, numbers and literals as written, and the top-level members
// stream, stream_options, user and metadata left out (they do not change
// the answer). Requests that differ only in member order, whitespace,
// string escaping or those members have one canonical form; any other
// difference shows, in a string too: two strings have one form exactly
// when they are the same sequence of UTF-16 code units, lone surrogates
// included. Invalid UTF-8 in a string is kept as it is.
//
// body must be valid JSON (the request was checked); an empty body
// appends nothing. AppendCanonical neither modifies nor keeps body:
// what it appends is copied.
func AppendCanonical(dst, body []byte) []byte {
	if len(body) == 0 {
		return dst
	}
	// A read-only view of the body: what is kept of it is copied.
	p := canonScans.Get().(*canonScan)
	p.s, p.i = unsafe.String(&body[0], len(body)), 0
	dst = p.value(dst, true)
	p.s = "" // the pool keeps no request
	if cap(p.scratch) <= 64<<10 && cap(p.refs) <= 1024 {
		clear(p.refs[:cap(p.refs)]) // nor its member names
		canonScans.Put(p)
	}
	return dst
}

// appendLiteral appends the JSON string literal raw (quotes included, as
// it is in the request) escaped the canonical way: '"', '\\' and control
// characters escaped as appendString does, every other character as
// UTF-8, and a lone surrogate (a \uD800-\uDFFF escape that is not half of
// a pair) as a \u escape in lower case. It does not decode through the
// string's value (gjson's Str), which turns every lone surrogate into
// U+FFFD: "\ud800", "\udfff" and "\ufffd" are different strings to an
// upstream and must have different keys. Invalid UTF-8 is kept as it is
// (it hashes as sent). A malformed escape, which a checked request cannot
// hold, is copied as written: no valid string's form has a backslash
// before anything but '"', '\\' or 'u'.
func appendLiteral(dst []byte, raw string) []byte {
	if len(raw) < 2 || strings.IndexByte(raw, '\\') < 0 {
		return append(dst, raw...) // nothing escaped: already canonical
	}
	s := raw[1 : len(raw)-1]
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = appendByte(dst, c)
			continue
		}
		if i+1 >= len(s) {
			return append(append(dst, s[i:]...), '"')
		}
		i++
		switch s[i] {
		case '"', '\\', '/':
			dst = appendByte(dst, s[i])
		case 'b':
			dst = appendByte(dst, '\b')
		case 'f':
			dst = appendByte(dst, '\f')
		case 'n':
			dst = appendByte(dst, '\n')
		case 'r':
			dst = appendByte(dst, '\r')
		case 't':
			dst = appendByte(dst, '\t')
		case 'u':
			r, ok := hex4(s[i+1:])
			if !ok {
				dst = append(dst, '\\', 'u')
				continue
			}
			i += 4
			switch {
			case r < utf8.RuneSelf:
				dst = appendByte(dst, byte(r))
			case !utf16.IsSurrogate(r):
				dst = utf8.AppendRune(dst, r)
			default:
				if r < 0xdc00 && i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					if r2, ok := hex4(s[i+3:]); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
						dst = utf8.AppendRune(dst, utf16.DecodeRune(r, r2))
						i += 6
						continue
					}
				}
				dst = append(dst, '\\', 'u', lowerHex[r>>12], lowerHex[r>>8&15], lowerHex[r>>4&15], lowerHex[r&15])
			}
		default:
			dst = append(dst, '\\', s[i])
		}
	}
	return append(dst, '"')
}

// lowerHex are the digits of the canonical \u escapes.
const lowerHex = "0123456789abcdef"

// appendByte appends one byte of a string's value the canonical way: '"'
// and '\\' escaped, control characters as \u00XX, others as they are.
func appendByte(dst []byte, c byte) []byte {
	switch {
	case c == '"' || c == '\\':
		return append(dst, '\\', c)
	case c < 0x20:
		return append(dst, '\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&15])
	}
	return append(dst, c)
}

// hex4 reads the four hex digits of a \u escape at the start of s.
func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[:4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendString appends the Go string s as a JSON string escaped the
// canonical way (the entry codec's names). Invalid UTF-8 is kept as it is
// (it hashes as sent).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		dst = appendByte(dst, s[i])
	}
	return append(dst, '"')
}
