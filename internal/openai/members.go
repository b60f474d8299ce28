package openai

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// This file keeps the bridge and the decoders behind it reading the same
// members. gjson (validation, routing, admission) matches member names
// exactly and reads the first of duplicates; encoding/json (the bridge's
// typed decoders, and the Go upstreams behind it: Ollama, new-api,
// LocalAI) matches them under Unicode simple case folding and keeps the
// last. A body where the two could differ is refused before anything
// reads it: CheckMembers at the envelope, FieldSet in the decoders.

// MemberFault is a member name the bridge refuses: a member that differs
// only in case from a member known at its place, or one of two members of
// an object whose names are equal under case folding (exactly equal
// included). It is an error, for the decoders that return it.
type MemberFault struct {
	// Name is the refused member as sent (escapes undone).
	Name string
	// Other is the name it clashes with: the known member it folds onto,
	// or the earlier member of the same object.
	Other string
	// path leads from the body (or the decoded object) to the member,
	// outermost first, the member itself last.
	path []pathSeg
}

type pathSeg struct {
	name  string
	index int // an array element when name is ""
}

// Param names the member in OpenAI's notation: messages[0].content.
func (f *MemberFault) Param() string { return f.join(false) }

// DottedParam names the member in the notation of Anthropic's API:
// messages.0.content.
func (f *MemberFault) DottedParam() string { return f.join(true) }

func (f *MemberFault) join(dotted bool) string {
	var b strings.Builder
	for i, s := range f.path {
		switch {
		case s.name == "" && !dotted:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
			continue
		case i > 0:
			b.WriteByte('.')
		}
		if s.name == "" {
			b.WriteString(strconv.Itoa(s.index))
		} else {
			b.WriteString(s.name)
		}
	}
	return b.String()
}

// Message says what is wrong, for the client.
func (f *MemberFault) Message() string {
	if f.Name == f.Other {
		return "The member " + quote(f.Name) + " is given more than once."
	}
	return "The member " + quote(f.Name) + " differs from " + quote(f.Other) +
		" only in case; member names are case-sensitive."
}

// APIError is the fault as a 400 invalid_request_error in OpenAI's shape,
// Param naming the member.
func (f *MemberFault) APIError() *APIError {
	return &APIError{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: "invalid_request",
		Param: f.Param(), Message: f.Message()}
}

// Error implements error: the parameter and the message.
func (f *MemberFault) Error() string { return f.Param() + ": " + f.Message() }

// in prefixes the fault's path with the member it was found under; a nil
// fault stays nil.
func (f *MemberFault) in(name string) *MemberFault {
	if f != nil {
		f.path = slices.Insert(f.path, 0, pathSeg{name: strings.Clone(memberName(name))})
	}
	return f
}

// at prefixes the fault's path with an array index.
func (f *MemberFault) at(i int) *MemberFault {
	if f != nil {
		f.path = slices.Insert(f.path, 0, pathSeg{index: i})
	}
	return f
}

// caseFault is the refusal of name, a member that folds onto known. The
// name is cloned: it may be a view of the body being decoded.
func caseFault(name, known string) *MemberFault {
	name = strings.Clone(name)
	return &MemberFault{Name: name, Other: known, path: []pathSeg{{name: memberName(name)}}}
}

// CheckMembers reads body, which must be valid JSON (json.Valid accepted
// it; on anything else it returns some result without panicking), and
// returns the first member name where gjson and encoding/json could read
// the body differently:
//
//   - in any object at any depth, a member whose name equals an earlier
//     member's under case folding (exactly equal included): gjson reads the
//     first, encoding/json the last;
//   - at the top level, when top is not nil, a member that is not one of
//     top's names but equals one under case folding ("Model" beside, or
//     instead of, "model"): validation never sees it, a Go decoder takes it
//     for the known member.
//
// The folding is encoding/json's: Unicode simple folding, so "ſ" folds to
// "s" and the Kelvin sign to "k"; names are compared after their escapes
// are undone. It returns nil for an acceptable body and allocates nothing
// for one of ordinary shape (objects of up to 16 members, names of up to
// 64 bytes, at most 16 levels deep). Safe for concurrent use.
func CheckMembers(body []byte, top *FieldSet) *MemberFault {
	// The scan runs on every request: a loop of labels, its state in local
	// arrays that stay on the stack for ordinary bodies (see clash).
	var keyArr [32]nameRef
	var frameArr [16]scanFrame
	var bufArr, buf2Arr [64]byte
	d, i, keys, frames, buf, buf2 := body, 0, keyArr[:0], frameArr[:0], bufArr[:0], buf2Arr[:0]
	var fault *MemberFault
value:
	if i = skipSpace(d, i); i >= len(d) {
		return nil
	}
	switch c := d[i]; c {
	case '"':
		i = stringEnd(d, i+1) + 1
	case '{', '[':
		frames = append(frames, scanFrame{object: c == '{', first: len(keys)})
		if i = skipSpace(d, i+1); i >= len(d) || d[i] != c+2 { // '}' is '{'+2, ']' is '['+2
			if c == '{' {
				goto member
			}
			goto value
		}
		i++ // an empty container
		frames = frames[:len(frames)-1]
	default:
		i = scalarEnd(d, i)
	}
after:
	if i = skipSpace(d, i); len(frames) == 0 || i >= len(d) {
		return nil
	}
	if d[i] == ',' {
		i++
		if f := &frames[len(frames)-1]; !f.object {
			f.index++
			goto value
		}
		goto member
	}
	i++ // the container closes
	if keys, frames, fault = closing(d, keys, frames); fault != nil {
		return fault
	}
	goto after
member:
	if i = skipSpace(d, i); i >= len(d) || d[i] != '"' || len(frames) == 0 {
		return nil // not valid JSON
	}
	k := nameEnd(d, i+1)
	i = skipSpace(d, k.end+1) + 1 // past the colon
	if mayClash(top, keys, frames, &k) {
		if buf, buf2, fault = clash(d, top, keys, frames, k, buf, buf2); fault != nil {
			return fault
		}
	}
	keys = append(keys, k)
	goto value
}

// closing pops the innermost container as it ends. An object's members
// are forgotten, a large object's checked for clashing names first.
func closing(d []byte, keys []nameRef, frames []scanFrame) ([]nameRef, []scanFrame, *MemberFault) {
	f := &frames[len(frames)-1]
	if f.object {
		if f.large {
			if fault := sortedClash(d, keys, frames); fault != nil {
				return keys, frames, fault
			}
		}
		keys = keys[:f.first]
	}
	return keys, frames[:len(frames)-1], nil
}

// mayClash is the quick test every member takes: whether clash must
// look at the name k of a member of the innermost object. It need not
// when k cannot be a variant of a name of top and no earlier member of a
// small object may have an equal name: the object's names so far are
// kept as a 64-bit filter of their sums and lengths (plain names only: a
// name that is not makes every later one look), so that an object of n
// members costs n tests, not n²/2.
func mayClash(top *FieldSet, keys []nameRef, frames []scanFrame, k *nameRef) bool {
	return mayClashName(top, len(keys), frames, k.sum, k.end-k.start, k.plain, k.upper)
}

// mayClashName is mayClash of a name given by its fields (sum, length,
// plain, upper), nkeys the number of names before it.
func mayClashName(top *FieldSet, nkeys int, frames []scanFrame, sum uint32, n int, plain, upper bool) bool {
	f := &frames[len(frames)-1]
	bit := uint64(1) << ((sum*31 + uint32(n)) & 63)
	seen := f.names&bit != 0
	f.names |= bit
	if !plain { // every later name must look
		f.names = ^uint64(0)
	}
	return seen || !plain || len(frames) == 1 && top != nil && (upper || !top.lower) || nkeys-f.first >= smallObject
}

// clash checks the name k of a member of the innermost object: at the
// top level not a variant of a name of top, and in a small object not
// equal to an earlier member's name. A larger object is marked to be
// checked when it closes. The scratch buf and buf2 is returned for reuse.
//
// Like closing, it takes CheckMembers's slices by value and hands back
// those it grows: kept in a struct behind a pointer and grown through
// it, they would move CheckMembers's arrays to the heap.
func clash(d []byte, top *FieldSet, keys []nameRef, frames []scanFrame, k nameRef, buf, buf2 []byte) ([]byte, []byte, *MemberFault) {
	if len(frames) == 1 && top != nil && (!k.plain || k.upper || !top.lower) {
		// A plain name without upper case letters folds onto a name of
		// a set of such names only by being it: no lookup needed.
		var known string
		var ok bool
		if known, ok, buf = variant(top, d, k, buf); ok {
			return buf, buf2, clashAt(d, keys, frames, k, known)
		}
	}
	f := &frames[len(frames)-1]
	if len(keys)-f.first >= smallObject {
		f.large = true
		return buf, buf2, nil
	}
	for _, o := range keys[f.first:] {
		if o.plain && k.plain && (o.sum != k.sum || o.end-o.start != k.end-k.start) {
			continue // cannot be equal
		}
		var c int
		if c, buf, buf2 = compareNames(d, o, k, buf, buf2); c == 0 {
			return buf, buf2, clashAt(d, keys, frames, k, nameText(d, o))
		}
	}
	return buf, buf2, nil
}

// smallObject is the number of members up to which an object's names are
// compared pairwise as they come; a larger object is sorted by folded name
// when it closes (n log n, whatever an attacker sends).
const smallObject = 16

// nameRef is a member name in the body: d[start:end] is the text between
// its quotes.
type nameRef struct {
	start, end int
	// sum is a checksum of a plain name (its first and last bytes,
	// folded) that names equal under folding share: two plain names whose
	// sums differ are not equal.
	sum uint32
	// plain: ASCII without escapes, so folding is upper-casing bytes;
	// upper: it has an upper-case ASCII letter.
	plain, upper bool
}

type scanFrame struct {
	object bool
	large  bool // an object with more than smallObject members
	// names: mayClash's filter of the object's plain names, all bits
	// set once a name that is not plain was seen.
	names uint64
	first int // objects: the index in keys of its first member
	index int // arrays: the index of the current element
}

func skipSpace(d []byte, i int) int {
	for i < len(d) && d[i] <= ' ' && (d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t') {
		i++
	}
	return i
}

// stringEnd returns the index of the quote that closes the string whose
// text starts at i (or len(d)). Most of a body is string text: short
// strings are read byte by byte, longer ones searched with
// bytes.IndexByte; a quote is escaped when an odd number of backslashes
// precedes it.
func stringEnd(d []byte, i int) int {
	for j := i; j < len(d) && j < i+16; j++ {
		switch d[j] {
		case '"':
			return j
		case '\\':
			goto search
		}
	}
search:
	for {
		j := bytes.IndexByte(d[i:], '"')
		if j < 0 {
			return len(d)
		}
		q := i + j
		n := 0
		for k := q - 1; k >= i && d[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		i = q + 1
	}
}

// nameChar classifies the bytes of a member name.
var nameChar = func() (t [256]uint8) {
	t['"'], t['\\'] = nameStop, nameStop
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = nameUpper
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = nameWide
	}
	return t
}()

const (
	nameStop  = 1 // the closing quote or an escape
	nameUpper = 2
	nameWide  = 4 // not ASCII
	nameRead  = 8 // tok.class: the name was classed as it was read
)

// nameEnd reads the member name whose text starts at i. Names are short
// and rarely escaped: one table lookup a byte classifies it and finds its
// end (a loop beats bytes.IndexByte's setup at these lengths); a name
// with an escape is read again the slow way.
func nameEnd(d []byte, i int) nameRef {
	var class uint8
	for j := i; j < len(d); j++ {
		c := d[j]
		t := nameChar[c]
		if t&nameStop != 0 {
			if c != '"' { // an escape: read the name again the slow way
				return nameRef{start: i, end: stringEnd(d, i)}
			}
			k := nameRef{start: i, end: j, plain: class&nameWide == 0, upper: class&nameUpper != 0}
			if j > i {
				k.sum = uint32(upper(d[i]))<<8 | uint32(upper(d[j-1]))
			}
			return k
		}
		class |= t
	}
	return nameRef{start: i, end: len(d)}
}

// scalarEnd returns the index after a number, true, false or null.
func scalarEnd(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ',', '}', ']', ' ', '\n', '\r', '\t':
			return i
		}
		i++
	}
	return i
}

// rawName is the text of a name between its quotes, as a read-only
// string view of d (nothing keeps it past the scan).
func rawName(d []byte, k nameRef) string {
	if k.end <= k.start || k.end > len(d) {
		return ""
	}
	return unsafe.String(&d[k.start], k.end-k.start)
}

// nameText is a name as sent, its escapes undone (the error path only).
func nameText(d []byte, k nameRef) string {
	return string(appendName(nil, rawName(d, k), false))
}

// variant returns the top-level name of top that k folds onto when k is
// not itself one of them; buf is scratch, returned for reuse.
func variant(top *FieldSet, d []byte, k nameRef, buf []byte) (string, bool, []byte) {
	raw := rawName(d, k)
	if k.plain {
		if _, ok := top.fields[raw]; ok {
			return "", false, buf
		}
	} else {
		buf = appendName(buf[:0], raw, false)
		if _, ok := top.fields[string(buf)]; ok {
			return "", false, buf
		}
	}
	buf = appendName(buf[:0], raw, true)
	known, ok := top.folded[string(buf)]
	return known, ok, buf
}

// compareNames orders two names by their folded form; x and y are
// scratch, returned for reuse.
func compareNames(d []byte, a, b nameRef, x, y []byte) (int, []byte, []byte) {
	p, q := rawName(d, a), rawName(d, b)
	if a.plain && b.plain {
		for i := 0; i < len(p) && i < len(q); i++ {
			if c, e := upper(p[i]), upper(q[i]); c != e {
				return int(c) - int(e), x, y
			}
		}
		return len(p) - len(q), x, y
	}
	x = appendName(x[:0], p, true)
	y = appendName(y[:0], q, true)
	return bytes.Compare(x, y), x, y
}

// sortedClash finds two members of the innermost object of a large one,
// keys[first:], whose names are equal under folding, by sorting them.
func sortedClash(d []byte, keys []nameRef, frames []scanFrame) *MemberFault {
	ks := keys[frames[len(frames)-1].first:]
	var x, y []byte
	cmp := func(a, b nameRef) int {
		var c int
		c, x, y = compareNames(d, a, b, x, y)
		return c
	}
	slices.SortFunc(ks, cmp)
	for i := 1; i < len(ks); i++ {
		if cmp(ks[i-1], ks[i]) == 0 {
			a, b := ks[i-1], ks[i]
			if a.start > b.start {
				a, b = b, a
			}
			return clashAt(d, keys, frames, b, nameText(d, a)) // the later one, under the object's path
		}
	}
	return nil
}

// clashAt builds the refusal of k, a member of the innermost object open,
// naming its path from the frames open.
func clashAt(d []byte, keys []nameRef, frames []scanFrame, k nameRef, other string) *MemberFault {
	f := &MemberFault{Name: nameText(d, k), Other: other}
	for j, fr := range frames[:len(frames)-1] {
		if !fr.object {
			f.path = append(f.path, pathSeg{index: fr.index})
			continue
		}
		// The member being read is the last one of this object: the one
		// before the next object's first.
		next := len(keys)
		for _, in := range frames[j+1:] {
			if in.object {
				next = in.first
				break
			}
		}
		f.path = append(f.path, pathSeg{name: memberName(nameText(d, keys[next-1]))})
	}
	f.path = append(f.path, pathSeg{name: memberName(f.Name)})
	return f
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// appendName appends the name whose JSON text (between its quotes) is
// raw, its escapes undone as encoding/json undoes them (a lone surrogate
// or a byte that is not UTF-8 becomes U+FFFD) and, when fold is set,
// folded as encoding/json folds names: ASCII letters upper-cased, every
// other rune replaced by the smallest rune of its simple-folding orbit.
// Two names are equal under bytes.EqualFold exactly when their folded
// forms are equal.
func appendName(dst []byte, raw string, fold bool) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c < utf8.RuneSelf && c != '\\' {
			if fold {
				c = upper(c)
			}
			dst = append(dst, c)
			i++
			continue
		}
		var r rune
		if c == '\\' {
			r, i = unescape(raw, i)
		} else {
			var n int
			r, n = utf8.DecodeRuneInString(raw[i:])
			i += n
		}
		if fold {
			r = foldRune(r)
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// appendFolded appends s (a name with its escapes already undone) folded.
func appendFolded(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			dst = append(dst, upper(c))
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		dst = utf8.AppendRune(dst, foldRune(r))
		i += n
	}
	return dst
}

// foldRune is encoding/json's: the smallest rune of r's folding orbit.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// unescape reads the escape at raw[i] (a backslash) and returns its rune
// and the index after it.
func unescape(raw string, i int) (rune, int) {
	if i+1 >= len(raw) {
		return utf8.RuneError, len(raw)
	}
	switch raw[i+1] {
	case 'b':
		return '\b', i + 2
	case 'f':
		return '\f', i + 2
	case 'n':
		return '\n', i + 2
	case 'r':
		return '\r', i + 2
	case 't':
		return '\t', i + 2
	case 'u':
		r := hex4(raw, i+2)
		if r < 0 {
			return utf8.RuneError, min(i+6, len(raw))
		}
		i += 6
		if !utf16.IsSurrogate(r) {
			return r, i
		}
		if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
			if dec := utf16.DecodeRune(r, hex4(raw, i+2)); dec != unicode.ReplacementChar {
				return dec, i + 6
			}
		}
		return unicode.ReplacementChar, i
	}
	return rune(raw[i+1]), i + 2 // \" \\ \/
}

// hex4 reads four hex digits at raw[i:], or returns -1.
func hex4[S string | []byte](raw S, i int) rune {
	if i+4 > len(raw) {
		return -1
	}
	var r rune
	for k := i; k < i+4; k++ {
		switch c := raw[k]; {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return -1
		}
	}
	return r
}
