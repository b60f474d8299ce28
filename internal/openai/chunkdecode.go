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
//
// The copy is read onto a tape (one scan, which also validates) and its
// members are walked there: a nested value is skipped in one step and a
// number is read only where a field wants it. (Walked with gjson, each
// level rescanned its values and parsed every number as a float, and the
// nested callbacks took a translated stream's handler past its first 8
// KiB of stack.)
func decodeChunkFast(data []byte, from *ChunkDecoder) *ChatChunk {
	var d chunkDecoder
	if from != nil {
		d = chunkDecoder{own: from.arena.Bytes(data), b: from.blocks.New()}
	} else {
		d = chunkDecoder{own: append([]byte(nil), data...), b: new(chunkBlock)}
	}
	t, ok := scanTape(d.own)
	defer putTape(t)
	if !ok || len(t.toks) == 0 || t.tooManyValues() || !d.chunk(Value{t.root()}) {
		return nil
	}
	return &d.b.c
}

// The names of ChatChunk, ChunkChoice, Delta and the usage types, in the order of the
// readers' switches (TestChunkReaderNames holds them to the types').
var (
	chunkNames  = []string{"id", "object", "created", "model", "system_fingerprint", "choices", "usage"}
	choiceNames = []string{"index", "delta", "finish_reason", "logprobs"}
	deltaNames  = []string{"role", "content", "reasoning_content", "refusal", "tool_calls"}
	// Usage, PromptTokensDetails and CompletionTokensDetails.
	usageNames             = []string{"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details", "completion_tokens_details"}
	promptDetailsNames     = []string{"cached_tokens", "cache_write_tokens"}
	completionDetailsNames = []string{"reasoning_tokens"}
)

// raw is v's text as a view of d.own, capped so that appending to it
// copies.
func (d *chunkDecoder) raw(v Value) json.RawMessage { return rawView(v.Raw()) }

// rawView is s's bytes (a part of a buffer nothing writes to), capped.
func rawView(s string) json.RawMessage {
	return unsafe.Slice(unsafe.StringData(s), len(s))[:len(s):len(s)]
}

// ptrField reads a *string member: null is nil.
func (d *chunkDecoder) ptrField(v Value, dst **string) bool {
	var s string
	switch v.Type() {
	case gjson.Null:
		*dst = nil
		return true
	case gjson.String:
		var ok bool
		if s, ok = Unquote(v.Raw()); ok {
			*dst = d.b.ptr(s)
		}
		return ok
	}
	return false
}

// intField reads a plain integer (no fraction, exponent or sign but a
// minus) that fits in 64 bits; null leaves it alone.
func intField(v Value, dst *int64) bool {
	switch v.Type() {
	case gjson.Null:
		return true
	case gjson.Number:
		n, err := strconv.ParseInt(v.Raw(), 10, 64)
		*dst = n
		return err == nil
	}
	return false
}

// chunk reads the top level of a chunk.
func (d *chunkDecoder) chunk(root Value) bool {
	c := &d.b.c
	return readMembers(root, chunkNames, func(i int, v Value) bool {
		switch i {
		case 0:
			return v.ReadStringView(&c.ID)
		case 1:
			return v.ReadStringView(&c.Object)
		case 2:
			return intField(v, &c.Created)
		case 3:
			return v.ReadStringView(&c.Model)
		case 4:
			return v.ReadStringView(&c.SystemFingerprint)
		case 5:
			return d.choices(v)
		default:
			return d.usage(v)
		}
	}, &c.Extra, false)
}

// usage reads the usage member, which ends a stream.
func (d *chunkDecoder) usage(v Value) bool {
	if v.Type() == gjson.Null {
		d.b.c.Usage = nil
		return true
	}
	u, ok := readUsage(v, false)
	d.b.c.Usage = u
	return ok
}

// readUsage reads a usage object as json.Unmarshal fills a *Usage; its
// Extra members are copies with clone, views of v's text without.
func readUsage(v Value, clone bool) (*Usage, bool) {
	u := new(Usage)
	ok := readMembers(v, usageNames, func(i int, v Value) bool {
		switch i {
		case 0:
			return intOrNull(v, &u.PromptTokens)
		case 1:
			return intOrNull(v, &u.CompletionTokens)
		case 2:
			return intOrNull(v, &u.TotalTokens)
		case 3:
			if v.Type() == gjson.Null {
				u.PromptTokensDetails = nil
				return true
			}
			p := new(PromptTokensDetails)
			u.PromptTokensDetails = p
			return readMembers(v, promptDetailsNames, func(i int, v Value) bool {
				if i == 0 {
					return intOrNull(v, &p.CachedTokens)
				}
				return intOrNull(v, &p.CacheWriteTokens)
			}, &p.Extra, clone)
		default:
			if v.Type() == gjson.Null {
				u.CompletionTokensDetails = nil
				return true
			}
			c := new(CompletionTokensDetails)
			u.CompletionTokensDetails = c
			return readMembers(v, completionDetailsNames, func(_ int, v Value) bool {
				return intOrNull(v, &c.ReasoningTokens)
			}, &c.Extra, clone)
		}
	}, &u.Extra, clone)
	return u, ok
}

// intOrNull reads an integer that fits an int as encoding/json does
// (null leaves *dst alone).
func intOrNull(v Value, dst *int) bool {
	return v.Type() == gjson.Null || v.ReadInt(dst)
}

// choices reads the choices array; null is nil.
func (d *chunkDecoder) choices(v Value) bool {
	c := &d.b.c
	switch {
	case v.Type() == gjson.Null:
		c.Choices = nil
		return true
	case !v.IsArray():
		return false
	}
	c.Choices = d.b.choice[:0:1]
	t := v.v.t
	for j, end := v.v.elems(); j < end; j = t.toks[j].next {
		c.Choices = append(c.Choices, ChunkChoice{})
		if !d.choice(Value{t.val(j)}, &c.Choices[len(c.Choices)-1]) {
			return false
		}
	}
	return true
}

// choice reads one choice object.
func (d *chunkDecoder) choice(e Value, ch *ChunkChoice) bool {
	return readMembers(e, choiceNames, func(i int, v Value) bool {
		switch i {
		case 0:
			var n int64
			ok := intField(v, &n) && int64(int(n)) == n
			ch.Index = int(n)
			return ok
		case 1:
			return v.IsObject() && d.delta(v, &ch.Delta)
		case 2:
			return d.ptrField(v, &ch.FinishReason)
		default:
			ch.Logprobs = d.raw(v)
			return true
		}
	}, &ch.Extra, false)
}

// delta reads one delta object; tool calls are decoded by encoding/json.
func (d *chunkDecoder) delta(o Value, dl *Delta) bool {
	return readMembers(o, deltaNames, func(i int, v Value) bool {
		switch i {
		case 0:
			return v.ReadStringView(&dl.Role)
		case 1:
			return d.ptrField(v, &dl.Content)
		case 2:
			return d.ptrField(v, &dl.ReasoningContent)
		case 3:
			return d.ptrField(v, &dl.Refusal)
		default:
			return json.Unmarshal(d.raw(v), &dl.ToolCalls) == nil
		}
	}, &dl.Extra, false)
}
