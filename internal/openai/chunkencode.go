package openai

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"slices"
	"strconv"
)

// appendChunk appends c as Marshal writes it — the members of each type
// in field order, the empty ones its tags omit left out, each Extra
// after them in sorted order (EncodeWithExtra) — without reflection and
// into one buffer: a chat client's translated stream encodes every chunk.
// ok is false when a raw member is not valid JSON; Marshal then takes
// encoding/json's path, whose error it returns. FuzzMarshalChunk holds
// the two equal.
func appendChunk(dst []byte, c *ChatChunk) (_ []byte, ok bool) {
	dst = append(dst, `{"id":`...)
	dst = AppendString(dst, c.ID)
	dst = append(dst, `,"object":`...)
	dst = AppendString(dst, c.Object)
	dst = append(dst, `,"created":`...)
	dst = strconv.AppendInt(dst, c.Created, 10)
	dst = append(dst, `,"model":`...)
	dst = AppendString(dst, c.Model)
	if dst, ok = appendArray(append(dst, `,"choices":`...), c.Choices, appendChunkChoice); !ok {
		return dst, false
	}
	if c.Usage != nil {
		if dst, ok = appendUsage(append(dst, `,"usage":`...), c.Usage); !ok {
			return dst, false
		}
	}
	if c.SystemFingerprint != "" {
		dst = append(dst, `,"system_fingerprint":`...)
		dst = AppendString(dst, c.SystemFingerprint)
	}
	return appendExtra(dst, c.Extra, chatChunkFields)
}

func appendChunkChoice(dst []byte, c *ChunkChoice) (_ []byte, ok bool) {
	dst = append(dst, `{"index":`...)
	dst = strconv.AppendInt(dst, int64(c.Index), 10)
	if dst, ok = appendDelta(append(dst, `,"delta":`...), &c.Delta); !ok {
		return dst, false
	}
	dst = append(dst, `,"finish_reason":`...)
	if c.FinishReason == nil {
		dst = append(dst, "null"...)
	} else {
		dst = AppendString(dst, *c.FinishReason)
	}
	if len(c.Logprobs) > 0 {
		if dst, ok = appendRaw(append(dst, `,"logprobs":`...), c.Logprobs); !ok {
			return dst, false
		}
	}
	return appendExtra(dst, c.Extra, chunkChoiceFields)
}

func appendDelta(dst []byte, d *Delta) (_ []byte, ok bool) {
	dst = append(dst, '{')
	if d.Role != "" {
		dst = AppendString(append(dst, `"role":`...), d.Role)
	}
	dst = appendStringPtr(dst, `"content":`, d.Content)
	dst = appendStringPtr(dst, `"reasoning_content":`, d.ReasoningContent)
	dst = appendStringPtr(dst, `"refusal":`, d.Refusal)
	if len(d.ToolCalls) > 0 {
		if dst, ok = appendArray(append(comma(dst), `"tool_calls":`...), d.ToolCalls, appendToolCall); !ok {
			return dst, false
		}
	}
	return appendExtra(dst, d.Extra, deltaFields)
}

func appendToolCall(dst []byte, c *ToolCall) ([]byte, bool) {
	dst = append(dst, '{')
	if c.Index != nil {
		dst = strconv.AppendInt(append(dst, `"index":`...), int64(*c.Index), 10)
	}
	if c.ID != "" {
		dst = AppendString(append(comma(dst), `"id":`...), c.ID)
	}
	if c.Type != "" {
		dst = AppendString(append(comma(dst), `"type":`...), c.Type)
	}
	dst = append(comma(dst), `"function":{`...)
	if c.Function.Name != "" {
		dst = append(AppendString(append(dst, `"name":`...), c.Function.Name), ',')
	}
	dst = append(AppendString(append(dst, `"arguments":`...), c.Function.Arguments), '}')
	return appendExtra(dst, c.Extra, toolCallFields)
}

func appendUsage(dst []byte, u *Usage) (_ []byte, ok bool) {
	dst = append(dst, `{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.PromptTokens), 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.CompletionTokens), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.TotalTokens), 10)
	if p := u.PromptTokensDetails; p != nil {
		dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
		dst = strconv.AppendInt(dst, int64(p.CachedTokens), 10)
		if p.CacheWriteTokens != 0 {
			dst = append(dst, `,"cache_write_tokens":`...)
			dst = strconv.AppendInt(dst, int64(p.CacheWriteTokens), 10)
		}
		if dst, ok = appendExtra(dst, p.Extra, promptDetailsFields); !ok {
			return dst, false
		}
	}
	if c := u.CompletionTokensDetails; c != nil {
		dst = append(dst, `,"completion_tokens_details":{"reasoning_tokens":`...)
		dst = strconv.AppendInt(dst, int64(c.ReasoningTokens), 10)
		if dst, ok = appendExtra(dst, c.Extra, completionDetailsFields); !ok {
			return dst, false
		}
	}
	return appendExtra(dst, u.Extra, usageFields)
}

// comma separates a member from the one before it, if any (dst ends with
// the object's opening brace otherwise).
func comma(dst []byte) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	return dst
}

// appendStringPtr writes an omitempty *string member: nothing when nil.
func appendStringPtr(dst []byte, key string, s *string) []byte {
	if s == nil {
		return dst
	}
	return AppendString(append(comma(dst), key...), *s)
}

// appendExtra writes the members of extra that known does not name, in
// sorted order, and closes the object, as EncodeWithExtra does.
func appendExtra(dst []byte, extra map[string]json.RawMessage, known *FieldSet) (_ []byte, ok bool) {
	if len(extra) == 0 {
		return append(dst, '}'), true
	}
	var room [8]string
	keys := room[:0]
	for k := range extra {
		if !known.Has(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		dst = append(AppendString(comma(dst), k), ':')
		raw := extra[k]
		if len(raw) == 0 {
			raw = json.RawMessage("null")
		}
		if dst, ok = appendRaw(dst, raw); !ok {
			return dst, false
		}
	}
	return append(dst, '}'), true
}

// AppendRaw appends raw compacted, as encoding/json writes a
// json.RawMessage (a nil one is null); ok is false when it is not valid
// JSON, an empty one included (encoding/json then fails).
func AppendRaw(dst []byte, raw json.RawMessage) (_ []byte, ok bool) {
	if raw == nil {
		return append(dst, "null"...), true
	}
	return appendRaw(dst, raw)
}

// AppendExtra writes the members of extra that known does not name, in
// sorted order, and closes the object, as EncodeWithExtra does after a
// type's own members; ok is false when one is not valid JSON.
func AppendExtra(dst []byte, extra map[string]json.RawMessage, known *FieldSet) ([]byte, bool) {
	return appendExtra(dst, extra, known)
}

// appendRaw appends a raw member compacted, as encoding/json writes a
// json.RawMessage (json.Compact without HTML escapes); ok is false when
// it is not valid JSON.
func appendRaw(dst, raw []byte) ([]byte, bool) {
	if !ValidJSON(raw) {
		return dst, false
	}
	if !bytes.ContainsAny(raw, " \t\r\n") {
		return append(dst, raw...), true
	}
	return appendCompactValid(dst, raw), true
}

// appendCompactValid appends raw, which is valid JSON, without the white
// space between its tokens. Strings, where white space stays, are
// skipped eight bytes at a time up to a quote or a backslash, as in
// scanString; encoding/json's Compact reads every byte through its state
// machine (a tool result's text at 60 MB/s).
func appendCompactValid(dst, raw []byte) []byte {
	start := 0
	for i := 0; i < len(raw); {
		switch raw[i] {
		case '"':
			i = validStringEnd(raw, i+1)
		case ' ', '\t', '\r', '\n':
			dst = append(dst, raw[start:i]...)
			for i++; i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n'); i++ {
			}
			start = i
		default:
			i++
		}
	}
	return append(dst, raw[start:]...)
}

// validStringEnd returns the index after the closing quote of the string
// of valid JSON d whose text starts at d[i].
func validStringEnd(d []byte, i int) int {
	for {
		for ; i+8 <= len(d); i += 8 {
			v := binary.LittleEndian.Uint64(d[i:])
			if m := quoteOrBackslash(v); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
		}
		if i >= len(d) {
			return i
		}
		switch d[i] {
		case '"':
			return i + 1
		case '\\':
			i += 2 // the escaped byte (a \uXXXX's digits are plain)
		default:
			i++
		}
	}
}

// chunkSizeHint is room for c's JSON, so that the buffer rarely grows.
func chunkSizeHint(c *ChatChunk) int {
	n := 160 + len(c.ID) + len(c.Model) + len(c.SystemFingerprint) + 48*len(c.Extra)
	for i := range c.Choices {
		d := &c.Choices[i].Delta
		n += 96 + len(c.Choices[i].Logprobs) + 48*len(d.Extra)
		for _, s := range [...]*string{d.Content, d.ReasoningContent, d.Refusal} {
			if s != nil {
				n += len(*s) + len(*s)/8 + 24
			}
		}
		for j := range d.ToolCalls {
			f := &d.ToolCalls[j].Function
			n += 96 + len(d.ToolCalls[j].ID) + len(f.Name) + len(f.Arguments) + len(f.Arguments)/4
		}
	}
	if c.Usage != nil {
		n += 160
	}
	return n
}
