package openai

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Unquote returns the text of the JSON string literal raw (quotes
// included) exactly as encoding/json decodes it — invalid UTF-8 and lone
// surrogates become U+FFFD — for the hand-written decoders, which read
// strings without a trip through reflection. A string without escapes
// is returned as a substring of raw (nothing copied); ok is false when
// raw is not a string literal. Adapted from encoding/json's unquoteBytes
// (Go's standard library, BSD licence).
func Unquote(raw string) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	in := raw[1 : len(raw)-1]
	r := 0
	for r < len(in) {
		c := in[r]
		if c == '\\' || c == '"' || c < ' ' {
			break
		}
		if c < utf8.RuneSelf {
			r++
			continue
		}
		rr, size := utf8.DecodeRuneInString(in[r:])
		if rr == utf8.RuneError && size == 1 {
			break
		}
		r += size
	}
	if r == len(in) {
		return in, true
	}
	b := make([]byte, r, len(in)+2*utf8.UTFMax)
	copy(b, in[:r])
	for r < len(in) {
		switch c := in[r]; {
		case c == '\\':
			if b, r, ok = unescapeAt(b, in, r); !ok {
				return "", false
			}
		case c == '"', c < ' ':
			return "", false
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRuneInString(in[r:])
			r += size
			b = utf8.AppendRune(b, rr)
		}
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), true
}

// unescapeAt appends the text of the escape at in[r] (a backslash) to b
// and returns where the escape ends; ok is false for a bad escape.
func unescapeAt(b []byte, in string, r int) (_ []byte, end int, ok bool) {
	r++
	if r >= len(in) {
		return b, r, false
	}
	switch e := in[r]; e {
	case '"', '\\', '/', '\'':
		return append(b, e), r + 1, true
	case 'b', 'f', 'n', 'r', 't':
		return append(b, "\b\f\n\r\t"[strings.IndexByte("bfnrt", e)]), r + 1, true
	case 'u':
		rr := getu4(in[r-1:])
		if rr < 0 {
			return b, r, false
		}
		r += 5
		if utf16.IsSurrogate(rr) {
			if dec := utf16.DecodeRune(rr, getu4(in[r:])); dec != unicode.ReplacementChar {
				return utf8.AppendRune(b, dec), r + 6, true
			}
			rr = unicode.ReplacementChar
		}
		return utf8.AppendRune(b, rr), r, true
	}
	return b, r, false
}

// getu4 decodes \uXXXX from the beginning of s, returning the hex value,
// or it returns -1.
func getu4(s string) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	return hex4(s, 2)
}
