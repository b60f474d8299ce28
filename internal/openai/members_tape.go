package openai

import (
	"slices"
	"unicode/utf8"
)

// memberCheck is CheckMembers done by scanTapeMembers as it reads the
// tokens: the same checks in the same order, with the same result, with
// no second walk over the body or the tape. Its slices live in the
// pooled tape, so that an ordinary body costs no allocation.
type memberCheck struct {
	top       *FieldSet
	keys      []nameRef   // the names of the objects open, outermost first
	frames    []scanFrame // the containers open, outermost first
	buf, buf2 []byte      // clash's scratch
	fault     *MemberFault
}

// The scan's calls (c is nil when names are not checked, or no longer;
// the caller tests it for open, which is then inlined):

// element counts an element of the innermost container, an array.
func (c *memberCheck) element() {
	if c != nil {
		c.frames[len(c.frames)-1].index++
	}
}

// named checks the member name token n; it returns c, or nil once c
// has found a fault.
func (c *memberCheck) named(d []byte, n *tok) *memberCheck {
	if c != nil && !c.name(d, n) {
		return nil
	}
	return c
}

// closed pops the innermost container as it closes; it returns c, or
// nil once c has found a fault.
func (c *memberCheck) closed(d []byte) *memberCheck {
	if c != nil && !c.closing(d) {
		return nil
	}
	return c
}

// open pushes a container that opens.
func (c *memberCheck) open(object bool) {
	if len(c.frames) == cap(c.frames) {
		c.frames = slices.Grow(c.frames, 1)
	}
	c.frames = c.frames[:len(c.frames)+1]
	c.frames[len(c.frames)-1] = scanFrame{object: object, first: len(c.keys), index: -1}
}

// name checks the member name token n of the innermost object; false
// when it is refused (c.fault).
func (c *memberCheck) name(d []byte, n *tok) bool {
	if n.class&nameRead == 0 {
		return c.slowName(d, n)
	}
	if len(c.keys) == cap(c.keys) {
		c.keys = slices.Grow(c.keys, 1)
	}
	// The name classed as scanName read it: its nameRef is made in its
	// slot of keys, field by field (a nameRef made elsewhere and copied
	// in stalls the copy's wide loads on the narrow stores before them),
	// and the quick test reads the fields from registers, not back from
	// keys.
	start, end := int(n.start)+1, int(n.end)-1
	plain, up := n.class&nameWide == 0, n.class&nameUpper != 0
	var sum uint32
	if end > start {
		sum = uint32(upper(d[start]))<<8 | uint32(upper(d[end-1]))
	}
	keys := c.keys[:len(c.keys)+1]
	c.keys = keys
	k := &keys[len(keys)-1]
	k.start, k.end, k.sum, k.plain, k.upper = start, end, sum, plain, up
	if !mayClashName(c.top, len(keys)-1, c.frames, sum, end-start, plain, up) {
		return true
	}
	c.buf, c.buf2, c.fault = clash(d, c.top, keys[:len(keys)-1], c.frames, *k, c.buf, c.buf2)
	return c.fault == nil
}

// slowName is name for a name with escapes, read again (nameEnd).
func (c *memberCheck) slowName(d []byte, n *tok) bool {
	c.keys = append(c.keys, nameEnd(d, int(n.start)+1))
	keys := c.keys[:len(c.keys)-1]
	if k := &c.keys[len(c.keys)-1]; mayClash(c.top, keys, c.frames, k) {
		c.buf, c.buf2, c.fault = clash(d, c.top, keys, c.frames, *k, c.buf, c.buf2)
	}
	return c.fault == nil
}

// closing pops the innermost container as it closes; false when a large
// object's names clash (c.fault).
func (c *memberCheck) closing(d []byte) bool {
	f := &c.frames[len(c.frames)-1]
	if f.large {
		c.keys, c.frames, c.fault = closing(d, c.keys, c.frames)
		return c.fault == nil
	}
	if f.object { // closing's work for an object without a sort
		c.keys = c.keys[:f.first]
	}
	c.frames = c.frames[:len(c.frames)-1]
	return true
}

// CheckJSON reports, in one reading of body, whether it is valid JSON
// (json.Valid's answer), whether it is ASCII or valid UTF-8, and, for
// valid JSON, CheckMembers(body, top): what ValidJSON, utf8.Valid and
// CheckMembers find in three. A body larger than tapeBodyMax is read in
// those three passes instead: a tape takes 16 bytes a token, up to eight
// times the body ("[0,0,0,…" of token ids), and nothing here needs one.
func CheckJSON(body []byte, top *FieldSet) (valid, utf8OK bool, fault *MemberFault) {
	if len(body) > tapeBodyMax {
		if !ValidJSON(body) {
			return false, false, nil
		}
		return true, utf8.Valid(body), CheckMembers(body, top)
	}
	t, ok, fault := scanTapeMembers(body, top)
	defer putTape(t)
	if !ok {
		return false, false, nil
	}
	return true, !t.wide || utf8.Valid(body), fault
}

// tapeBodyMax is the largest body CheckJSON reads onto a tape.
const tapeBodyMax = 1 << 20
