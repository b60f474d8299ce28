package openai

import (
	"encoding/binary"
	"math/bits"
	"net/http"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// scanTape reads d into a tape from the pool and checks, in the same
// pass, that d is valid JSON exactly as json.Valid decides (FuzzScanTape
// holds the two equal): one reading of the body instead of a validator's
// followed by a tokenizer's. It reports false when d is not valid JSON;
// the tape is then incomplete, and the caller still returns it with
// putTape. The tape's wide is set when a string holds a byte that is not
// ASCII (UTF-8 validity is not JSON validity: the caller checks it).
func scanTape(d []byte) (*tape, bool) {
	t := tapes.Get().(*tape)
	return t, t.scan(d, nil)
}

// scanTapeMembers is scanTape that also checks d's member names as
// CheckMembers(d, top) does, in the same pass: each name as it is read,
// each object's as it closes. It returns CheckMembers' first fault for
// valid JSON (FuzzTapeCheckMembers holds the two equal), nil otherwise.
func scanTapeMembers(d []byte, top *FieldSet) (*tape, bool, *MemberFault) {
	t := tapes.Get().(*tape)
	c := &t.chk
	c.top, c.keys, c.frames, c.fault = top, c.keys[:0], c.frames[:0], nil
	ok := t.scan(d, c)
	f := c.fault
	c.top, c.fault = nil, nil
	if !ok {
		return t, false, nil
	}
	return t, true, f
}

// scan is scanTape's reading of d onto t, checking member names on c
// when c is not nil (c is dropped once it finds the first fault: the
// rest is only read).
//
// Strings, most of a request's bytes, are searched eight bytes at a time
// for the bytes that end the fast path: a quote, a backslash, a control
// character, and (until the first is seen) a byte that is not ASCII.
func (t *tape) scan(d []byte, c *memberCheck) bool {
	t.s = unsafe.String(unsafe.SliceData(d), len(d))
	var ok bool
	t.toks, t.stack, t.wide, t.text, ok = scanTokens(d, t.toks[:0], t.stack[:0], c)
	if !ok {
		t.text = -1 // counted up to where the reading failed: no count
	}
	return ok
}

// scanTokens is scan's loop. The tape's slices are kept in locals while
// they grow and handed back at the end, so that appending does not go
// through t (nor through a deferred closure's references, which would
// keep them in memory rather than registers). It also counts the text of
// the string values as it reads them (tape.text), escapes unescaped, so
// that a prompt-token estimate needs no second reading of the body.
func scanTokens(d []byte, toks []tok, stack []int32, c *memberCheck) ([]tok, []int32, bool, int, bool) {
	i, wide, open, ok, text := 0, false, byte(0), false, 0 // open: the kind of the innermost container open
value:
	if i = skipSpace(d, i); i >= len(d) || len(toks) >= maxTapeValues {
		return toks, stack, wide, text, false
	}
	if b := d[i]; b == '{' || b == '[' {
		if len(stack) >= maxNesting {
			return toks, stack, wide, text, false
		}
		stack = append(stack, int32(len(toks)))
		toks, open = pushTok(toks, b, false, i, 0), b
		if c != nil {
			c.open(b == '{')
		}
		if i = skipSpace(d, i+1); i < len(d) && d[i] == b+2 { // '}' is '{'+2, ']' is '['+2
			goto closing
		}
		if b == '{' {
			goto name
		}
		goto element
	}
	if d[i] == '"' { // most values: a call less
		start, gone := i, 0
		toks, i, gone, ok = scanString(d, i, toks, &wide)
		text += i - start - 2 - gone
	} else {
		toks, i, ok = scanScalar(d, i, toks)
	}
	if !ok {
		return toks, stack, wide, text, false
	}
after:
	if i = skipSpace(d, i); len(stack) == 0 {
		return toks, stack, wide, text, i == len(d)
	}
	if i < len(d) && d[i] == ',' {
		if i++; open == '{' {
			goto name
		}
		goto element
	} else if i >= len(d) || d[i] != open+2 {
		return toks, stack, wide, text, false
	}
closing:
	stack, open = closeTok(toks, stack, i), 0
	if i++; len(stack) > 0 {
		open = toks[stack[len(stack)-1]].kind
	}
	c = c.closed(d)
	goto after
element:
	c.element()
	goto value
name:
	if toks, i, ok = scanName(d, i, toks, &wide); !ok {
		return toks, stack, wide, text, false
	}
	c = c.named(d, &toks[len(toks)-1])
	goto value
}

// closeTok ends the innermost container open at d[i] (its closing
// bracket) and pops it from stack.
func closeTok(toks []tok, stack []int32, i int) []int32 {
	j := stack[len(stack)-1]
	toks[j].end, toks[j].next = int32(i+1), int32(len(toks))
	return stack[:len(stack)-1]
}

// scanScalar appends the literal or number at d[i] to toks and returns
// the index after it, or false when none valid starts there.
func scanScalar(d []byte, i int, toks []tok) ([]tok, int, bool) {
	switch c := d[i]; c {
	case 't', 'f', 'n':
		lit := literal(c)
		if len(d)-i < len(lit) || string(d[i:i+len(lit)]) != lit {
			return toks, i, false
		}
		return pushTok(toks, c, false, i, i+len(lit)), i + len(lit), true
	}
	end := numberEnd(d, i)
	if end < 0 {
		return toks, i, false
	}
	return pushTok(toks, '0', false, i, end), end, true
}

// pushTok appends a token for s[start:end] (a scalar; next is the token
// after it). The fields are stored one by one into the slice: a tok built
// on the stack and copied in whole stalls the copy's 16-byte load on the
// narrower stores before it (store-to-load forwarding fails), which cost
// a third of the reading time.
func pushTok(toks []tok, kind byte, esc bool, start, end int) []tok {
	n := len(toks)
	if n == cap(toks) {
		// Doubled: append's 1.25× for large slices allocates five times
		// the final tape along the way.
		toks = slices.Grow(toks, max(n, 64))
	}
	toks = toks[:n+1]
	k := &toks[n]
	k.kind, k.esc, k.class, k.start, k.end, k.next = kind, esc, 0, int32(start), int32(end), int32(n+1)
	return toks
}

func literal(c byte) string {
	switch c {
	case 't':
		return "true"
	case 'f':
		return "false"
	}
	return "null"
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// quoteOrBackslash sets the high bit of each byte of v (eight bytes of
// text, little-endian) that is a quote or a backslash, and maybe of bytes
// above the first such (a borrow carries up): the lowest marked byte is
// the first that is one. For the string scanners, eight bytes at a time.
func quoteOrBackslash(v uint64) uint64 {
	q, b := v^(lsb*'"'), v^(lsb*'\\')
	return ((q-lsb)&^q | (b-lsb)&^b) & msb
}

// belowSpace is quoteOrBackslash for control characters (below 0x20).
func belowSpace(v uint64) uint64 { return (v - lsb*0x20) &^ v & msb }

// scanString appends the string whose opening quote is at d[i] to toks and
// returns the index after its closing quote and how many bytes shorter
// its text is once unescaped (escapeEnd), or false when it is not a valid
// JSON string (a control character, a bad escape, no end). It sets *wide
// at the first byte that is not ASCII.
func scanString(d []byte, i int, toks []tok, wide *bool) ([]tok, int, int, bool) {
	start, esc, w, gone := i, false, *wide, 0
	i++
	for {
		// Eight bytes at a time: the lowest byte the mask marks is the
		// first that needs a look (marks above it may be false).
		for ; i+8 <= len(d); i += 8 {
			v := binary.LittleEndian.Uint64(d[i:])
			m := quoteOrBackslash(v) | belowSpace(v)
			if !w {
				m |= v
			}
			if m &= msb; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
		}
		if i >= len(d) {
			return toks, i, 0, false
		}
		switch c := d[i]; {
		case c == '"':
			i++
			return pushTok(toks, '"', esc, start, i), i, gone, true
		case c == '\\':
			esc = true
			var cut int
			if i, cut = escapeEnd(d, i); i < 0 {
				return toks, 0, 0, false
			}
			gone += cut
		case c < 0x20:
			return toks, i, 0, false
		default:
			if c >= 0x80 {
				w, *wide = true, true
			}
			i++
		}
	}
}

// scanName reads a member up to its value: the name, whose opening quote
// is the first byte at d[i] after white space, appended to toks, and the
// colon after it; it returns the index after the colon. Names are short:
// they are read a byte at a time with one table lookup, which also
// classes them for the member check (tok.class); a name with an escape
// or a control character is left to scanString.
func scanName(d []byte, i int, toks []tok, wide *bool) ([]tok, int, bool) {
	if i = skipSpace(d, i); i >= len(d) || d[i] != '"' {
		return toks, i, false
	}
	var class uint8
	j := i + 1
	for ; j < len(d); j++ {
		c := d[j]
		cl := scanNameChar[c]
		if cl&nameStop != 0 {
			break
		}
		class |= cl
	}
	var ok bool
	if j < len(d) && d[j] == '"' {
		toks = pushTok(toks, '"', false, i, j+1)
		toks[len(toks)-1].class = class | nameRead
		*wide = *wide || class&nameWide != 0
		i = j + 1
	} else if toks, i, _, ok = scanString(d, i, toks, wide); !ok {
		return toks, i, false
	}
	if i = skipSpace(d, i); i >= len(d) || d[i] != ':' {
		return toks, i, false
	}
	return toks, i + 1, true
}

// scanNameChar is nameChar for scanName, which reads names not yet known
// to be valid JSON: a control character stops a name too (scanString,
// which scanName then calls, refuses it), so that the loop makes one
// test a byte.
var scanNameChar = func() [256]uint8 {
	t := nameChar
	for c := range 0x20 {
		t[c] = nameStop
	}
	return t
}()

// escapeEnd returns the index after the escape at d[i] (a backslash) and
// how many bytes shorter it is unescaped as encoding/json unescapes it (a
// surrogate pair, read here as one escape, is one 4-byte rune; a lone
// surrogate is U+FFFD), or -1 when it is not an escape JSON allows.
func escapeEnd(d []byte, i int) (int, int) {
	if i+1 >= len(d) {
		return -1, 0
	}
	switch d[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2, 1
	case 'u':
		r := hex4(d, i+2)
		switch {
		case r < 0:
			return -1, 0
		case !utf16.IsSurrogate(r):
			return i + 6, 6 - utf8.RuneLen(r)
		case r < 0xdc00 && i+12 <= len(d) && d[i+6] == '\\' && d[i+7] == 'u':
			if lo := hex4(d, i+8); 0xdc00 <= lo && lo < 0xe000 {
				return i + 12, 12 - 4
			}
		}
		return i + 6, 6 - 3
	}
	return -1, 0
}

// numberEnd returns the index after the JSON number at d[i], or -1 when
// none starts there: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func numberEnd(d []byte, i int) int {
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i >= len(d):
		return -1
	case d[i] == '0':
		i++
	case '1' <= d[i] && d[i] <= '9':
		i = digitsEnd(d, i+1)
	default:
		return -1
	}
	if i < len(d) && d[i] == '.' {
		if j := digitsEnd(d, i+1); j > i+1 {
			i = j
		} else {
			return -1
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if j := digitsEnd(d, i); j > i {
			i = j
		} else {
			return -1
		}
	}
	return i
}

func digitsEnd(d []byte, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}

// maxTapeValues bounds the tokens (values and member names) a tape holds:
// 16 MiB of tape. A body with more (a request's tokens are 16 bytes each
// on the tape, up to eight times the body for "[0,0,0,…") is not read
// further: the scan fails and tooManyValues tells the caller why.
const maxTapeValues = 1 << 20

// tooManyValues reports whether a scan of t failed for maxTapeValues.
func (t *tape) tooManyValues() bool { return len(t.toks) >= maxTapeValues }

// tooManyValuesError is the refusal of a body with more than
// maxTapeValues values.
func tooManyValuesError() *APIError {
	return &APIError{Status: http.StatusRequestEntityTooLarge, Type: TypeInvalidRequest, Code: "request_too_large",
		Message: "The request body holds more than " + strconv.Itoa(maxTapeValues) + " JSON values; the bridge does not read such a body."}
}
