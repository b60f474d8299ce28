package codec

import (
	"slices"
	"strings"
	"sync"

	"github.com/tidwall/gjson"
)

// canonScan writes the canonical form of a JSON text in one pass over its
// bytes (AppendCanonical's engine): each value is read once and written
// at once, and an object's members, written in the order they come, are
// reordered in place only when they are not in order already. It
// assumes valid JSON (a checked request) and never reads out of bounds
// on anything else.
type canonScan struct {
	s       string
	i       int
	scratch []byte   // an object's members while reordering them
	refs    []segRef // the members of the objects being written, a stack
}

// segRef is one member written to dst: its decoded name (the order) and
// where its `"name":value` is in dst.
type segRef struct {
	key        string
	start, end int
}

// ws skips insignificant whitespace.
func (p *canonScan) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// str reads a string literal at p.i (its opening quote) and returns it,
// quotes included, and whether it holds an escape.
func (p *canonScan) str() (raw string, escaped bool) {
	start := p.i
	i := p.i + 1
	for i < len(p.s) {
		j := strings.IndexByte(p.s[i:], '"')
		if j < 0 {
			break
		}
		b := strings.IndexByte(p.s[i:i+j], '\\')
		if b < 0 {
			p.i = i + j + 1
			return p.s[start:p.i], escaped
		}
		escaped = true
		i += b + 2 // the backslash and the character it escapes
	}
	p.i = len(p.s)
	return p.s[start:], escaped
}

// value appends the canonical form of the value at p.i; top marks the
// request's own object (its ignored members are left out).
func (p *canonScan) value(dst []byte, top bool) []byte {
	p.ws()
	if p.i >= len(p.s) {
		return dst
	}
	switch c := p.s[p.i]; c {
	case '{':
		return p.object(dst, top)
	case '[':
		p.i++
		dst = append(dst, '[')
		for first := true; ; first = false {
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] == ']' {
				p.i++
				return append(dst, ']')
			}
			if !first {
				dst = append(dst, ',')
			}
			dst = p.value(dst, false)
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
			}
		}
	case '"':
		raw, escaped := p.str()
		if !escaped {
			return append(dst, raw...) // already canonical
		}
		return appendLiteral(dst, raw)
	default: // a number or a literal: as written
		start := p.i
		p.token()
		if p.i == start {
			p.i++ // not JSON: move on
		}
		return append(dst, p.s[start:p.i]...)
	}
}

// object appends the canonical form of the object at p.i.
func (p *canonScan) object(dst []byte, top bool) []byte {
	p.i++
	dst = append(dst, '{')
	base := len(p.refs)
	sorted := true
	for {
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			p.i++ // '}' (or not JSON)
			break
		}
		raw, escaped := p.str()
		if len(raw) < 2 || raw[len(raw)-1] != '"' {
			break // not JSON: an unterminated name
		}
		key := raw[1 : len(raw)-1]
		if escaped {
			key = gjson.Parse(raw).Str // decoded as gjson decodes it: the order AppendCanonical documents
		}
		p.ws()
		p.i++ // ':'
		if top && slices.Contains(ignored[:], key) {
			p.skip()
		} else {
			start := len(dst)
			if len(p.refs) > base {
				dst = append(dst, ',')
				sorted = sorted && strings.Compare(p.refs[len(p.refs)-1].key, key) <= 0
			}
			if escaped {
				dst = appendLiteral(dst, raw)
			} else {
				dst = append(dst, raw...)
			}
			dst = append(dst, ':')
			dst = p.value(dst, false)
			p.refs = append(p.refs, segRef{key: key, start: start, end: len(dst)})
		}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
		}
	}
	if !sorted {
		dst = p.reorder(dst, p.refs[base:])
	}
	p.refs = p.refs[:base]
	return append(dst, '}')
}

// reorder rewrites the members refs (written in a row at the end of dst,
// each but the first after a comma) sorted by name, stably.
func (p *canonScan) reorder(dst []byte, refs []segRef) []byte {
	from := refs[0].start
	p.scratch = append(p.scratch[:0], dst[from:]...)
	for i := range refs {
		refs[i].start -= from
		refs[i].end -= from
		if i > 0 {
			refs[i].start++ // past the comma
		}
	}
	slices.SortStableFunc(refs, func(a, b segRef) int { return strings.Compare(a.key, b.key) })
	dst = dst[:from]
	for i, r := range refs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, p.scratch[r.start:r.end]...)
	}
	return dst
}

// skip moves past the value at p.i.
func (p *canonScan) skip() {
	p.ws()
	if p.i >= len(p.s) {
		return
	}
	switch p.s[p.i] {
	case '"':
		p.str()
	case '{', '[':
		depth := 0
		for p.i < len(p.s) {
			switch p.s[p.i] {
			case '"':
				p.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			p.i++
			if depth == 0 {
				return
			}
		}
	default:
		p.token()
	}
}

// token moves past a number or a literal.
func (p *canonScan) token() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r', ',', ']', '}':
			return
		}
		p.i++
	}
}

// canonScans holds the scans' stacks and reordering room.
var canonScans = sync.Pool{New: func() any { return &canonScan{refs: make([]segRef, 0, 32), scratch: make([]byte, 0, 1024)} }}
