package openai

import "bytes"

// ChunkInspector is InspectChunk for the chunks of one stream, which
// mostly begin with the same bytes: every OpenAI chunk repeats its
// stream's id, object, created, model, service_tier and
// system_fingerprint before "choices" — two thirds of a content chunk.
// Once a chunk was read whole, the inspector keeps its head (the bytes
// before its first member InspectChunk reads); a later chunk that begins
// with the same head and then a member's name is read from there on, as
// the object "{" + the rest.
//
// It answers exactly as InspectChunk does: the head holds no member
// InspectChunk reads, and such a chunk is valid JSON exactly when "{" +
// its rest is (the head ends after a member of the top-level object, its
// comma and any space, as it did in the valid chunk it was cut from);
// anything else is read whole. FuzzChunkInspector holds the two equal.
//
// The rests of a stream's content chunks are mostly alike too: the same
// bytes around the delta's text (chunkShape). Once a rest was read, a
// rest of the same shape is read by comparing bytes and scanning the
// strings in its holes: 250 → 75 ns a content chunk.
// The zero value is ready to use; it is not safe for concurrent use.
type ChunkInspector struct {
	head     []byte // bytes before the first member InspectChunk reads, of the last chunk read whole
	headToks int    // the tape tokens of the head's members
	buf      []byte // "{" + the rest of a chunk
	rest     []byte // the last chunk's "{" + rest, when it was read so
	shape    chunkShape
	// learnt counts the shapes learnt since one last matched a chunk:
	// past maxUnmatchedShapes, a stream whose rests differ outside their
	// strings (log probabilities, a counter) stops paying for learning.
	learnt int
}

// maxUnmatchedShapes is how many shapes in a row a stream may learn that
// match no chunk.
const maxUnmatchedShapes = 3

// Short returns how the last Inspect read its chunk when it read it from
// the head on: the head (the chunk's "{", after any space, and members,
// up to a member's comma and any space after it) and "{" + the rest of
// the chunk (a valid object whose first member's name follows the "{" at
// once), so the chunk is head + rest[1:]. Both are nil when the chunk
// was read whole; they are the inspector's and valid until the next
// Inspect.
func (ci *ChunkInspector) Short() (head, rest []byte) {
	if ci.rest == nil {
		return nil, nil
	}
	return ci.head, ci.rest
}

// Inspect returns InspectChunk(data, text).
func (ci *ChunkInspector) Inspect(data []byte, text *[]byte) ChunkInfo {
	ci.rest = nil
	// The rest must begin with a member's name, as where the head was
	// cut: "{" + "}" is an object, the head + "}" is not JSON.
	if n := len(ci.head); n > 0 && len(data) > n && data[n] == '"' && bytes.Equal(data[:n], ci.head) {
		ci.buf = append(append(ci.buf[:0], '{'), data[n:]...)
		rest := ci.buf
		if cap(ci.buf) > 4<<10 {
			ci.buf = nil // a stream holds no more than small chunks need between them
		}
		// The shape was learnt under this head: its tokens and the
		// head's are within the bound.
		if info, ok := ci.shape.match(rest, text); ok {
			ci.rest, ci.learnt = rest, 0
			return info
		}
		t, ok := scanTape(rest)
		// The whole chunk's tape would hold the head's tokens too: read
		// whole a chunk that would pass scanTape's bound with them.
		ok = ok && len(t.toks)+ci.headToks < maxTapeValues
		var info ChunkInfo
		if ok {
			info = inspectTape(t, text)
			if ci.learnt < maxUnmatchedShapes && ci.shape.learn(t, info) {
				ci.learnt++
			}
		}
		putTape(t)
		if ok {
			ci.rest = rest
			return info
		}
		// The whole chunk is not JSON either, or would pass the bound:
		// scanTape would refuse it too.
		ci.head, ci.shape.valid = ci.head[:0], false
		return inspectTrusting(data, text)
	}
	ci.shape.valid, ci.learnt = false, 0 // learnt under another head
	t, ok := scanTape(data)
	if !ok {
		putTape(t)
		ci.head = ci.head[:0]
		return inspectTrusting(data, text) // not JSON: read as well as it can be
	}
	info := inspectTape(t, text)
	ci.head, ci.headToks = ci.head[:0], 0
	if cut, toks := headCut(t); cut > 1 {
		ci.head, ci.headToks = append(ci.head, data[:cut]...), toks
	}
	putTape(t)
	return info
}

// headCut returns where the first top-level member that inspectTape reads
// begins in a valid chunk's tape, and how many tokens the members before
// it take; 0 when there is none.
func headCut(t *tape) (cut, toks int) {
	first, end := t.members(0)
	for j := first; j < end; j = t.nextMember(j) {
		switch t.name(j) {
		case "usage", "choices", "error":
			if j == first { // no member before it: no head ("{" and space)
				return 0, 0
			}
			return int(t.toks[j].start), int(j) - 1
		}
	}
	return 0, 0
}
