package codec

import (
	"bytes"
	"strconv"

	"github.com/tidwall/gjson"
)

// A stream's chunks mostly begin with the same bytes: every OpenAI chunk
// repeats the stream's id, object, created, model, service_tier and
// system_fingerprint before "choices", two thirds of a content chunk. A
// recorder that knows that head (openai.ChunkInspector.Short) writes one
// chunk whole and each later one that begins with its head short, as "{"
// + the rest, and says so after the chunks (AppendShortTail): a stored
// stream takes half the bytes. Decode puts each short chunk back
// together, so no reader of an Entry sees the difference.

// MaxChunkHead is the longest head a chunk is written short without: an
// OpenAI chunk's is about 200 bytes.
const MaxChunkHead = 1 << 10

// maxUnshorten bounds how many times the length of the value it came in
// the chunks Decode puts back together may take: the head is repeated
// in each, and a value made by anyone but a recorder (a shared backend
// written by someone else) must not make a reader allocate without
// bound. A stream of OpenAI's takes about twice its value.
const maxUnshorten = 32

// AppendShortTail ends, as AppendTail does, the value of a stream whose
// chunks member out holds with some chunks written short, appending
// first the members that say which: the head they lost (all they held
// before their first member but one, the "{" they kept) is the first n
// bytes of the chunk numbered from (0 is the first), written whole, and
// beginning with "{"; short has one byte per chunk, in order: '1' for a
// chunk written as "{" + its rest, '0' for one written whole. The entry
// is version 2. It appends at most ShortTailSize(short) bytes more than
// AppendTail.
func (e *Entry) AppendShortTail(out []byte, from, n int, short []byte) []byte {
	out = append(out, `,"head":[`...)
	out = strconv.AppendInt(out, int64(from), 10)
	out = append(out, ',')
	out = strconv.AppendInt(out, int64(n), 10)
	out = append(out, `],"short":"`...)
	out = append(out, short...)
	out = append(out, '"')
	return e.appendTail(out, shortVersion)
}

// ShortTailSize bounds what AppendShortTail appends beyond AppendTail's
// members for short.
func ShortTailSize(short []byte) int {
	return 60 + len(short)
}

// unshorten puts the chunks AppendShortTail's members mark short back
// together, in one new buffer (the others still alias the value, of
// length size). It reports false, changing nothing, when the members do
// not fit the chunks: head the pair [from, n] of a whole chunk and a
// length within it and MaxChunkHead, short a string of a mark for each
// chunk, '0' or '1'; a head that is the beginning of an object — "{"
// first, cut after a member's comma — so the head and the rest of a
// short chunk are one object; short chunks that begin with "{" and a
// member's name (an object with a member); and the chunks put together
// no longer than maxUnshorten times size. So every chunk Decode returns
// is valid JSON (FuzzDecodeEntry checks each).
func (e *Entry) unshorten(head, short gjson.Result, size int) bool {
	if short.Type != gjson.String || e.Format != "" || len(short.Str) != len(e.Chunks) {
		return false
	}
	var from, n int64 = -1, -1
	i := 0
	head.ForEach(func(_, m gjson.Result) bool {
		switch {
		case m.Type != gjson.Number || m.Num != float64(int64(m.Num)):
		case i == 0:
			from = int64(m.Num)
		case i == 1:
			n = int64(m.Num)
		}
		i++
		return true
	})
	if !head.IsArray() || i != 2 || from < 0 || from >= int64(len(e.Chunks)) || short.Str[from] != '0' || n <= 0 || n > MaxChunkHead || n >= int64(len(e.Chunks[from])) {
		return false
	}
	h := e.Chunks[from][:n]
	if t := bytes.TrimRight(h, " \t\r\n"); h[0] != '{' || len(t) == 0 || t[len(t)-1] != ',' || !gjson.Valid(string(h)+`"":0}`) {
		return false
	}
	whole := 0
	for i, mark := range []byte(short.Str) {
		switch ch := e.Chunks[i]; mark {
		case '0':
		case '1':
			if len(ch) < 2 || ch[0] != '{' || ch[1] != '"' {
				return false
			}
			whole += len(h) + len(ch) - 1
		default:
			return false
		}
	}
	if whole > maxUnshorten*size {
		return false
	}
	buf := make([]byte, 0, whole)
	for i, mark := range []byte(short.Str) {
		if mark == '1' {
			start := len(buf)
			buf = append(append(buf, h...), e.Chunks[i][1:]...)
			e.Chunks[i] = buf[start:len(buf):len(buf)]
		}
	}
	return true
}
