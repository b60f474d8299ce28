package openai

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf16"
)

// Redacted replaces a secret in text the bridge passes on; the providers'
// Redact writes the same mark.
const Redacted = "[redacted]"

// RedactJSON returns data, the JSON of an event an upstream sent (an error
// event that may echo the key it was sent: "Incorrect API key provided:
// sk-…"), with every occurrence of secret in its strings — member names
// included, whether written plainly or with escapes ("\u0073k-…") —
// replaced by Redacted, and every other byte kept: valid JSON stays valid.
// When data is not valid JSON, the secret is also replaced wherever else
// it stands. data itself is returned when there is nothing to redact, a
// new slice otherwise. Secrets shorter than 4 bytes are left alone, as
// the providers' Redact leaves them.
func RedactJSON(data []byte, secret string) []byte {
	sec := []byte(secret)
	if len(secret) < 4 || !bytes.Contains(data, sec) && bytes.IndexByte(data, '\\') < 0 {
		return data // the common case: nothing echoed, nothing escaped
	}
	var out []byte
	done := 0 // data[:done] is in out already
	for i := 0; i < len(data); {
		q := bytes.IndexByte(data[i:], '"')
		if q < 0 {
			break
		}
		start := i + q + 1
		end := stringEnd(data, start)
		i = end + 1
		if redacted, ok := redactString(data[start:end], secret); ok {
			out = append(append(out, data[done:start]...), redacted...)
			done = end
		}
	}
	if out == nil {
		out = data
	} else {
		out = append(out, data[done:]...)
	}
	if bytes.Contains(out, sec) && !json.Valid(data) {
		// Outside any string of what is not JSON: the key still never
		// passes.
		out = bytes.ReplaceAll(out, sec, []byte(Redacted))
	}
	return out
}

// redactString returns the text of a JSON string (between its quotes)
// without secret, and whether it changed it.
func redactString(raw []byte, secret string) ([]byte, bool) {
	sec := []byte(secret)
	if bytes.IndexByte(raw, '\\') < 0 {
		if !bytes.Contains(raw, sec) {
			return nil, false
		}
		return bytes.ReplaceAll(raw, sec, []byte(Redacted)), true
	}
	s := string(appendName(nil, string(raw), false)) // escapes undone
	if !strings.Contains(s, secret) && !bytes.Contains(raw, sec) {
		return nil, false
	}
	// Re-encoded without the secret. Should the secret still show in the
	// text (its letters next to an escape's: "\u0041BC" for "41BC"), every
	// rune is escaped.
	out := AppendString(nil, strings.ReplaceAll(s, secret, Redacted))
	out = out[1 : len(out)-1]
	if bytes.Contains(out, sec) {
		out = appendEscaped(out[:0], strings.ReplaceAll(s, secret, Redacted))
	}
	return out, true
}

// appendEscaped appends s as JSON string text with every rune written as
// a \u escape.
func appendEscaped(dst []byte, s string) []byte {
	for _, r := range s {
		for _, u := range utf16.AppendRune(nil, r) {
			dst = append(dst, '\\', 'u', hexDigits[u>>12], hexDigits[u>>8&0xf], hexDigits[u>>4&0xf], hexDigits[u&0xf])
		}
	}
	return dst
}
