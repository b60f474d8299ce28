package keys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// strictMembers checks that body is one JSON object whose members are
// each one of allowed, spelled exactly, and appear once. encoding/json
// alone matches member names without regard to case ("Name" sets name)
// and keeps the last of a repeated one, so a body a reviewer reads one
// way could be applied another: both are refused here, before decoding.
// Errors are *FieldError naming the member (or "body").
func strictMembers(body []byte, allowed []string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return &FieldError{Field: "body", Message: "want one JSON object"}
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return &FieldError{Field: "body", Message: "not a JSON object: " + err.Error()}
		}
		name, _ := tok.(string)
		switch {
		case !slices.Contains(allowed, name):
			msg := "unknown field (there are " + strings.Join(allowed, ", ") + ")"
			if i := slices.IndexFunc(allowed, func(a string) bool { return strings.EqualFold(a, name) }); i >= 0 {
				msg = fmt.Sprintf("unknown field: member names are case-sensitive (did you mean %q?)", allowed[i])
			}
			return &FieldError{Field: clipField(name), Message: msg}
		case seen[name]:
			return &FieldError{Field: name, Message: "given twice"}
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return &FieldError{Field: name, Message: "not a JSON value: " + err.Error()}
		}
	}
	if _, err := dec.Token(); err != nil {
		return &FieldError{Field: "body", Message: "not a JSON object: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &FieldError{Field: "body", Message: "want one JSON object"}
	}
	return nil
}

// clipField bounds a member name echoed back in an error.
func clipField(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	if s == "" {
		return `""`
	}
	return s
}
