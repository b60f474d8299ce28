package models

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest model name a family or a live list considers:
// model ids are short, and a longer name from a client or an upstream is
// an attack or a mistake, never a model.
const MaxNameLen = 256

// Match reports whether name matches pattern, where "*" matches any run
// of characters (including "/") and every other character only itself. A
// "*" in name is an ordinary character: a client cannot widen a pattern.
func Match(pattern, name string) bool {
	// Iterative wildcard match with one backtrack point: O(len(pattern) ×
	// len(name)) at worst, never exponential.
	p, n, star, mark := 0, 0, -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// CheckPattern reports why p cannot be a model pattern: it is empty or
// longer than MaxNameLen, holds a space or control character, or uses
// "?", "[", "]" or "\" (only "*" is a wildcard; refusing the others keeps
// a pattern from meaning something else than its writer thought).
func CheckPattern(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("model pattern is empty")
	case len(p) > MaxNameLen:
		return fmt.Errorf("model pattern %.40q… is longer than %d bytes", p, MaxNameLen)
	case strings.ContainsAny(p, `?[]\`):
		return fmt.Errorf("model pattern %q: only * is a wildcard (? [ ] \\ are not allowed)", p)
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("model pattern %q holds a space or control character", p)
		}
	}
	return nil
}

// literals counts p's characters that are not "*": the more of them, the
// more specific the pattern ("gpt-oss-*" beats "gpt-*", which beats "*").
func literals(p string) int { return len(p) - strings.Count(p, "*") }

// validName reports whether name can be a model id: non-empty, at most
// MaxNameLen bytes of valid UTF-8, every character graphic and none a
// space, a line or paragraph separator or a bidirectional control (which
// would make a listed name read as another in a terminal or a page).
func validName(name string) bool {
	if name == "" || len(name) > MaxNameLen || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f || !unicode.IsGraphic(r) || unicode.IsSpace(r) || unicode.Is(unicode.Bidi_Control, r) {
			return false
		}
	}
	return true
}
