package openai

import (
	"encoding/json"
	"strconv"
	"unsafe"

	"github.com/tidwall/gjson"
)

// DecodeChunk decodes one chunk of a Chat Completions stream exactly as
// json.Unmarshal into a ChatChunk does — the same chunk, the same
// refusals — in a few allocations rather than a few dozen: the chunks of
// a translated stream (an OpenAI-compatible upstream answering a Messages
// or Responses client) and of a cached stream are decoded with it.
//
// The usual chunk (known members with plain values, one choice, text
// deltas, a few unknown members kept in Extra) is read in one pass over
// one copy of data, which every string without escapes and every raw
// member of the result points into; anything else (tool calls and usage
// are decoded by encoding/json; a name given twice, a number that is not
// a plain integer or a member a case-variant away from a known one)
// takes json.Unmarshal's path, so the answer and the error
// are encoding/json's. FuzzDecodeChunk holds the two equal.
func DecodeChunk(data []byte) (*ChatChunk, error) {
	return decodeChunk(data, nil)
}

// ChunkDecoder decodes the chunks of one stream as DecodeChunk does,
// taking the copies of the data and the chunks from an Arena and a Slab:
// a few allocations for a stream's many chunks instead of two per chunk.
// The chunks it returns are the caller's to keep, like DecodeChunk's.
// The zero value is ready; a ChunkDecoder is not safe for concurrent use.
type ChunkDecoder struct {
	arena  Arena
	blocks Slab[chunkBlock]
}

// Decode decodes one chunk (DecodeChunk).
func (d *ChunkDecoder) Decode(data []byte) (*ChatChunk, error) {
	return decodeChunk(data, d)
}

func decodeChunk(data []byte, from *ChunkDecoder) (*ChatChunk, error) {
	if c := decodeChunkFast(data, from); c != nil {
		return c, nil
	}
	c := new(ChatChunk)
	if err := json.Unmarshal(data, c); err != nil {
		return nil, err
	}
	return c, nil
}

// chunkBlock is a decoded chunk with room for its usual parts, allocated
// at once: one choice and a few strings that pointer fields refer to.
type chunkBlock struct {
	c      ChatChunk
	choice [1]ChunkChoice
	strs   [3]string
	n      int
}

// ptr returns a pointer to a string holding s, from the block while it
// has room.
func (b *chunkBlock) ptr(s string) *string {
	if b.n == len(b.strs) {
		p := new(string)
		*p = s
		return p
	}
	p := &b.strs[b.n]
	b.n++
	*p = s
	return p
}

// chunkDecoder is one fast decode: the copy of the data and the block.
type chunkDecoder struct {
	own []byte
	b   *chunkBlock
}

// decodeChunkFast returns the chunk, or nil when data is not of the usual
// shape (DecodeChunk then asks encoding/json). The copy and the chunk come
// from the stream's decoder when there is one.
func decodeChunkFast(data []byte, from *ChunkDecoder) *ChatChunk {
	if !gjson.ValidBytes(data) {
		return nil
	}
	var d chunkDecoder
	if from != nil {
		d = chunkDecoder{own: from.arena.Bytes(data), b: from.blocks.New()}
	} else {
		d = chunkDecoder{own: append([]byte(nil), data...), b: new(chunkBlock)}
	}
	root := gjson.Parse(d.str(d.own))
	if !root.IsObject() || !d.chunk(root) {
		return nil
	}
	return &d.b.c
}

// str is a view of p, a part of d.own, which nothing writes to.
func (d *chunkDecoder) str(p []byte) string {
	return unsafe.String(unsafe.SliceData(p), len(p))
}

// raw is the bytes of v, a part of d.own, capped so that appending to
// them copies.
func (d *chunkDecoder) raw(v gjson.Result) json.RawMessage {
	start := v.Index
	if start < 0 || start+len(v.Raw) > len(d.own) || d.str(d.own[start:start+len(v.Raw)]) != v.Raw {
		return json.RawMessage(v.Raw)
	}
	return d.own[start : start+len(v.Raw) : start+len(v.Raw)]
}

// firstTime records a name as seen in *seen (bit i) and reports whether it was
// not seen before: a name given twice goes to encoding/json, which takes
// the last value of a scalar but merges objects.
func firstTime(seen *uint8, i int) bool {
	if *seen&(1<<i) != 0 {
		return false
	}
	*seen |= 1 << i
	return true
}

// extra adds an unknown member to *m, unless it folds onto a known name
// (encoding/json would bind it; DecodeWithExtra refuses it).
func (d *chunkDecoder) extra(m *map[string]json.RawMessage, known *FieldSet, k, v gjson.Result) bool {
	if _, clash := known.foldsOnto(k.Str); clash {
		return false
	}
	if *m == nil {
		*m = make(map[string]json.RawMessage, 2)
	}
	(*m)[k.Str] = d.raw(v)
	return true
}

// plainString reads a JSON string as encoding/json does (Unquote); ok is
// false for any other value.
func plainString(v gjson.Result) (s string, ok bool) {
	if v.Type != gjson.String {
		return "", false
	}
	return Unquote(v.Raw)
}

// stringField reads a string member the way encoding/json does for a
// string field: null leaves it empty.
func stringField(v gjson.Result, dst *string) bool {
	if v.Type == gjson.Null {
		return true
	}
	s, ok := plainString(v)
	*dst = s
	return ok
}

// ptrField reads a *string member: null is nil.
func (d *chunkDecoder) ptrField(v gjson.Result, dst **string) bool {
	if v.Type == gjson.Null {
		*dst = nil
		return true
	}
	s, ok := plainString(v)
	if ok {
		*dst = d.b.ptr(s)
	}
	return ok
}

// intField reads a plain integer (no fraction, exponent or sign but a
// minus) that fits in 64 bits.
func intField(v gjson.Result, dst *int64) bool {
	if v.Type != gjson.Number {
		return v.Type == gjson.Null
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	*dst = n
	return err == nil
}

var chatChunkUsage = chatChunkFields.fields["usage"]

// chunk reads the top level of a chunk.
func (d *chunkDecoder) chunk(root gjson.Result) bool {
	c := &d.b.c
	var seen uint8
	ok := true
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "id":
			ok = firstTime(&seen, 0) && stringField(v, &c.ID)
		case "object":
			ok = firstTime(&seen, 1) && stringField(v, &c.Object)
		case "created":
			ok = firstTime(&seen, 2) && intField(v, &c.Created)
		case "model":
			ok = firstTime(&seen, 3) && stringField(v, &c.Model)
		case "system_fingerprint":
			ok = firstTime(&seen, 4) && stringField(v, &c.SystemFingerprint)
		case "choices":
			ok = firstTime(&seen, 5) && d.choices(v)
		case "usage":
			ok = firstTime(&seen, 6) && d.usage(v)
		default:
			ok = d.extra(&c.Extra, chatChunkFields, k, v)
		}
		return ok
	})
	return ok
}

// usage decodes the usage member with encoding/json after the case check
// DecodeWithExtra makes.
func (d *chunkDecoder) usage(v gjson.Result) bool {
	if v.Type == gjson.Null {
		d.b.c.Usage = nil
		return true
	}
	if chatChunkUsage != nil && chatChunkUsage.check(v) != nil {
		return false
	}
	return json.Unmarshal(d.raw(v), &d.b.c.Usage) == nil
}

// choices reads the choices array; null is nil.
func (d *chunkDecoder) choices(v gjson.Result) bool {
	c := &d.b.c
	switch {
	case v.Type == gjson.Null:
		c.Choices = nil
		return true
	case !v.IsArray():
		return false
	}
	c.Choices = d.b.choice[:0:1]
	ok := true
	v.ForEach(func(_, e gjson.Result) bool {
		c.Choices = append(c.Choices, ChunkChoice{})
		ok = e.IsObject() && d.choice(e, &c.Choices[len(c.Choices)-1])
		return ok
	})
	return ok
}

// choice reads one choice object.
func (d *chunkDecoder) choice(e gjson.Result, ch *ChunkChoice) bool {
	var seen uint8
	ok := true
	e.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "index":
			var n int64
			ok = firstTime(&seen, 0) && intField(v, &n) && int64(int(n)) == n
			ch.Index = int(n)
		case "delta":
			ok = firstTime(&seen, 1) && v.IsObject() && d.delta(v, &ch.Delta)
		case "finish_reason":
			ok = firstTime(&seen, 2) && d.ptrField(v, &ch.FinishReason)
		case "logprobs":
			ok = firstTime(&seen, 3)
			ch.Logprobs = d.raw(v)
		default:
			ok = d.extra(&ch.Extra, chunkChoiceFields, k, v)
		}
		return ok
	})
	return ok
}

// delta reads one delta object; tool calls are decoded by encoding/json.
func (d *chunkDecoder) delta(o gjson.Result, dl *Delta) bool {
	var seen uint8
	ok := true
	o.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "role":
			ok = firstTime(&seen, 0) && stringField(v, &dl.Role)
		case "content":
			ok = firstTime(&seen, 1) && d.ptrField(v, &dl.Content)
		case "reasoning_content":
			ok = firstTime(&seen, 2) && d.ptrField(v, &dl.ReasoningContent)
		case "refusal":
			ok = firstTime(&seen, 3) && d.ptrField(v, &dl.Refusal)
		case "tool_calls":
			ok = firstTime(&seen, 4) && json.Unmarshal(d.raw(v), &dl.ToolCalls) == nil
		default:
			ok = d.extra(&dl.Extra, deltaFields, k, v)
		}
		return ok
	})
	return ok
}
