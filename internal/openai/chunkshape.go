package openai

import (
	"bytes"
	"unsafe"
)

// chunkShape is what the content chunks of a stream have in common after
// their head: the same bytes around a few strings that change from one
// chunk to the next (the delta's text, OpenAI's "obfuscation" padding).
// A chunk whose rest is those bytes with valid JSON strings in the holes
// has the tape of the chunk the shape was learnt from, but for those
// strings, so InspectChunk answers it as it answered that chunk, with the
// holes' text: the inspector reads it by comparing bytes and scanning the
// strings, not by building its tape (a content chunk: 250 → 75 ns).
//
// A hole is a string InspectChunk does not read (the value of a top-level
// member other than usage, choices and error), or one whose text it
// appends and reads nothing else of (a choice's delta content,
// reasoning_content or refusal). A shape is learnt only from a chunk
// InspectChunk says nothing of but its text: no usage, no error, no
// finish reason, and no tool call (whose name and arguments would be
// text from outside the holes).
type chunkShape struct {
	valid bool   // a shape was learnt (and not forgotten since)
	rest  []byte // "{" + the rest of the chunk it was learnt from
	holes [maxShapeHoles]shapeHole
	n     int // holes in use, in the order of rest
	info  ChunkInfo
}

// shapeHole is a string of the shape's chunk, quotes included.
type shapeHole struct {
	start, end int32
	text       bool // InspectChunk appends its text
}

// maxShapeHoles bounds the holes of a shape; a chunk with more strings
// that change is not given one.
const maxShapeHoles = 8

// learn makes s the shape of the chunk whose "{" + rest t holds, and
// info its InspectChunk; false (no shape) when the chunk cannot be one.
func (s *chunkShape) learn(t *tape, info ChunkInfo) bool {
	s.valid, s.rest, s.n = false, s.rest[:0], 0
	if info.Usage != nil || info.Error || info.Finished > 0 || info.BadFinish || len(t.s) > 4<<10 {
		return false
	}
	ok := true
	hole := func(j int32, text bool) {
		if k := &t.toks[j]; s.n < maxShapeHoles && (s.n == 0 || s.holes[s.n-1].end <= k.start) {
			s.holes[s.n] = shapeHole{k.start, k.end, text}
			s.n++
		} else {
			ok = false
		}
	}
	// The walk of inspectTape and inspectChoice, member for member (a
	// change there belongs here too; FuzzChunkInspector holds the two
	// equal).
	for j, end := t.members(0); j < end && ok; j = t.nextMember(j) {
		switch v := j + 1; t.name(j) {
		case "usage", "error":
		case "choices":
			t.eachValue(v, func(ch int32) {
				for m, end := t.members(ch); m < end; m = t.nextMember(m) {
					if t.name(m) != "delta" {
						continue
					}
					for d, end := t.members(m + 1); d < end; d = t.nextMember(d) {
						switch name := t.name(d); {
						case textMember(name):
							if t.kindOf(d+1) == '"' {
								hole(d+1, true)
							}
						case name == "tool_calls":
							ok = false
						}
					}
				}
			})
		default:
			if t.kindOf(v) == '"' {
				hole(v, false)
			}
		}
	}
	if !ok {
		return false
	}
	s.valid, s.rest, s.info = true, append(s.rest, t.s...), info
	return true
}

// match reports whether rest ("{" + the rest of a chunk) has s's shape;
// then it appends the holes' text to text (when not nil) and returns the
// chunk's InspectChunk.
func (s *chunkShape) match(rest []byte, text *[]byte) (ChunkInfo, bool) {
	if !s.valid {
		return ChunkInfo{}, false
	}
	var scratch [1]tok
	var wide bool
	var texts [2 * maxShapeHoles]int32 // the text holes' strings, as start, end pairs
	nt := 0
	at, from := 0, int32(0) // in rest, in s.rest
	for _, h := range s.holes[:s.n] {
		fixed := s.rest[from:h.start]
		if len(rest)-at <= len(fixed) || !bytes.Equal(rest[at:at+len(fixed)], fixed) || rest[at+len(fixed)] != '"' {
			return ChunkInfo{}, false
		}
		at += len(fixed)
		toks, end, _, ok := scanString(rest, at, scratch[:0], &wide)
		if !ok {
			return ChunkInfo{}, false
		}
		if h.text && toks[0].esc {
			texts[nt], texts[nt+1], nt = -int32(at)-1, int32(end), nt+2 // escaped: unquoted below
		} else if h.text {
			texts[nt], texts[nt+1], nt = int32(at)+1, int32(end)-1, nt+2
		}
		at, from = end, h.end
	}
	if !bytes.Equal(rest[at:], s.rest[from:]) {
		return ChunkInfo{}, false
	}
	if text != nil {
		for i := 0; i < nt; i += 2 {
			if start, end := texts[i], texts[i+1]; start >= 0 {
				*text = append(*text, rest[start:end]...)
			} else {
				str, _ := Unquote(unsafe.String(&rest[-start-1], int(end+start+1)))
				*text = append(*text, str...)
			}
		}
	}
	return s.info, true
}
