package openai

import (
	"slices"
	"unicode/utf8"
)

// checkMembers is CheckMembers on a tape of the body d (scanTape's, of
// valid JSON): the same checks in the same order, with the same result
// (FuzzTapeCheckMembers holds the two equal), walking the tokens instead
// of rescanning the bytes. It is what lets a request be read once.
func (t *tape) checkMembers(d []byte, top *FieldSet) *MemberFault {
	var keyArr [32]nameRef
	var frameArr [16]scanFrame
	var endArr [16]int32
	var bufArr, buf2Arr [64]byte
	keys, frames, ends, buf, buf2 := keyArr[:0], frameArr[:0], endArr[:0], bufArr[:0], buf2Arr[:0]
	var fault *MemberFault
	toks := t.toks
	for j := int32(0); ; {
		for len(ends) > 0 && ends[len(ends)-1] <= j { // containers that ended
			if keys, frames, fault = closing(d, keys, frames); fault != nil {
				return fault
			}
			ends = ends[:len(ends)-1]
		}
		if j >= int32(len(toks)) {
			return nil
		}
		v := j // the value: an element, or a member's after its name
		if len(frames) > 0 {
			if f := &frames[len(frames)-1]; !f.object {
				f.index++
			} else {
				// The name is made in its slot of keys, field by field:
				// a nameRef made elsewhere and copied in stalls the
				// copy's wide loads on the narrow stores before them.
				keys = tokName(keys, d, &toks[j])
				if k := &keys[len(keys)-1]; mayClash(top, keys[:len(keys)-1], frames, k) {
					if buf, buf2, fault = clash(d, top, keys[:len(keys)-1], frames, *k, buf, buf2); fault != nil {
						return fault
					}
				}
				v = j + 1
			}
		}
		if c := toks[v].kind; c == '{' || c == '[' {
			if len(frames) == cap(frames) {
				frames = slices.Grow(frames, 1)
			}
			frames = frames[:len(frames)+1]
			f := &frames[len(frames)-1]
			f.object, f.large, f.names, f.unplain, f.first, f.index = c == '{', false, 0, false, len(keys), -1
			ends = append(ends, toks[v].next)
		}
		j = v + 1
	}
}

// tokName appends the nameRef of a name token to keys: from the class
// scanTape gave it when it has one, otherwise read again (a name with
// escapes).
func tokName(keys []nameRef, d []byte, n *tok) []nameRef {
	if n.class&nameRead == 0 {
		return append(keys, nameEnd(d, int(n.start)+1))
	}
	if len(keys) == cap(keys) {
		keys = slices.Grow(keys, 1)
	}
	keys = keys[:len(keys)+1]
	k := &keys[len(keys)-1]
	k.start, k.end, k.plain, k.upper, k.sum = int(n.start)+1, int(n.end)-1, n.class&nameWide == 0, n.class&nameUpper != 0, 0
	if k.end > k.start {
		k.sum = uint32(upper(d[k.start]))<<8 | uint32(upper(d[k.end-1]))
	}
	return keys
}

// CheckJSON reports, in one reading of body, whether it is valid JSON
// (json.Valid's answer), whether it is ASCII or valid UTF-8, and, for
// valid JSON, CheckMembers(body, top): what ValidJSON, utf8.Valid and
// CheckMembers find in three.
func CheckJSON(body []byte, top *FieldSet) (valid, utf8OK bool, fault *MemberFault) {
	t, ok := scanTape(body)
	defer putTape(t)
	if !ok {
		return false, false, nil
	}
	return true, !t.wide || utf8.Valid(body), t.checkMembers(body, top)
}
