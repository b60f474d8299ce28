package openai

import (
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// ChunkInfo is what the relay needs to know about one OpenAI-format stream
// chunk, read without decoding it.
type ChunkInfo struct {
	// Usage is the raw usage object, nil when absent or null.
	Usage []byte
	// NoChoices is true when "choices" is an empty array (the usage chunk).
	NoChoices bool
	// Error is true when the chunk is an error event ({"error":…}).
	Error bool
	// Finished counts the chunk's choices with a finish_reason (a string).
	Finished int
	// BadFinish is true when one of them is not a normal end: "length",
	// "content_filter" or "" (an answer cut or withheld).
	BadFinish bool
}

// InspectChunk looks at the top-level members of a chunk. Only top-level
// members count: a "usage" key nested in a tool's arguments does not. When
// text is not nil, the generated text of the chunk's choices (delta
// content, reasoning_content, refusal, tool-call names and arguments) is
// appended to it in the same pass, for counting completion tokens when the
// upstream reports none.
func InspectChunk(data []byte, text *[]byte) ChunkInfo {
	var info ChunkInfo
	if len(data) == 0 {
		return info
	}
	// A read-only view of data, not a copy, read once into a tape (each
	// level below is walked without rescanning the ones inside it):
	// nothing below keeps a reference past this call (Usage and text are
	// copied out). scanTape is the faster reader; a chunk that is not
	// valid JSON is read as well as it can be by the trusting one.
	t, ok := scanTape(data)
	if !ok {
		putTape(t)
		return inspectTrusting(data, text)
	}
	defer putTape(t)
	return inspectTape(t, text)
}

// inspectTrusting is InspectChunk of a chunk scanTape refused (not JSON,
// or past its bound), read as well as it can be by the trusting reader.
func inspectTrusting(data []byte, text *[]byte) ChunkInfo {
	if len(data) == 0 {
		return ChunkInfo{}
	}
	t := readTape(unsafe.String(&data[0], len(data)))
	defer putTape(t)
	return inspectTape(t, text)
}

// inspectTape is InspectChunk over the chunk's tape.
func inspectTape(t *tape, text *[]byte) ChunkInfo {
	var info ChunkInfo
	if len(t.toks) == 0 {
		return info
	}
	for j, end := t.members(0); j < end; j = t.nextMember(j) {
		v := j + 1
		switch t.name(j) {
		case "usage":
			if t.kindOf(v) == '{' {
				info.Usage = []byte(t.val(v).Raw())
			}
		case "choices":
			info.NoChoices = t.kindOf(v) == '[' && isEmptyArray(t.val(v).Raw())
			if !info.NoChoices {
				t.eachValue(v, func(ch int32) { inspectChoice(t, ch, text, &info) })
			}
		case "error":
			info.Error = t.kindOf(v) != 'n'
		}
	}
	return info
}

// eachValue calls f with each element of the array v, or each member's
// value of the object v (as ForEach visits them).
func (t *tape) eachValue(v int32, f func(int32)) {
	for j, end := t.elems(v); j < end; j = t.toks[j].next {
		f(j)
	}
	for j, end := t.members(v); j < end; j = t.nextMember(j) {
		f(j + 1)
	}
}

// inspectChoice notes a chunk choice's finish reason and appends its
// delta's text.
func inspectChoice(t *tape, ch int32, text *[]byte, info *ChunkInfo) {
	for j, end := t.members(ch); j < end; j = t.nextMember(j) {
		switch v := j + 1; t.name(j) {
		case "delta":
			if text != nil {
				appendDeltaText(t, text, v)
			}
		case "finish_reason":
			if t.kindOf(v) == '"' {
				info.Finished++
				info.BadFinish = info.BadFinish || BadFinish(t.str(v))
			}
		}
	}
}

// textMember reports whether a message's (or delta's) member name holds
// generated text that a string value of it adds to the text counted
// (appendText, appendDeltaText; chunkShape makes such strings holes).
// Tool calls add their name and arguments besides.
func textMember(name string) bool {
	return name == "content" || name == "reasoning_content" || name == "refusal"
}

// appendDeltaText is appendText over a tape.
func appendDeltaText(t *tape, dst *[]byte, msg int32) {
	for j, end := t.members(msg); j < end; j = t.nextMember(j) {
		switch v, name := j+1, t.name(j); {
		case textMember(name):
			if t.kindOf(v) == '"' {
				*dst = append(*dst, t.str(v)...)
			}
		case name == "tool_calls":
			t.eachValue(v, func(tc int32) {
				f := t.val(tc).Get("function")
				*dst = append(*dst, f.Get("name").Str()...)
				*dst = append(*dst, f.Get("arguments").Str()...)
			})
		}
	}
}

// BadFinish reports whether a finish reason is not a normal end: an
// answer cut for length, withheld by a content filter, or without reason.
func BadFinish(reason string) bool {
	return reason == "" || reason == "length" || reason == "content_filter"
}

func isEmptyArray(raw string) bool {
	// gjson reports a truncated array ("[") as an array too.
	if len(raw) < 2 || raw[len(raw)-1] != ']' {
		return false
	}
	return strings.TrimSpace(raw[1:len(raw)-1]) == ""
}

// UsageCounts reads the token counts of a raw usage object without
// decoding it: prompt, completion, total (prompt+completion when absent),
// cached and reasoning tokens.
func UsageCounts(raw []byte) UsageNumbers {
	if len(raw) == 0 {
		return UsageNumbers{}
	}
	// A read-only view of raw: only numbers leave here, so no path's
	// result is copied (GetManyBytes copied each, and their array).
	s := unsafe.String(&raw[0], len(raw))
	total := gjson.Get(s, "total_tokens")
	cached := gjson.Get(s, "prompt_tokens_details.cached_tokens")
	n := UsageNumbers{Prompt: int(gjson.Get(s, "prompt_tokens").Int()), Completion: int(gjson.Get(s, "completion_tokens").Int()),
		Total: int(total.Int()), Cached: int(cached.Int()),
		Reasoning:  int(gjson.Get(s, "completion_tokens_details.reasoning_tokens").Int()),
		CacheWrite: int(gjson.Get(s, "prompt_tokens_details.cache_write_tokens").Int())}
	if !total.Exists() {
		n.Total = n.Prompt + n.Completion
	}
	if !cached.Exists() {
		// DeepSeek's own field, for versions without prompt_tokens_details.
		n.Cached = int(gjson.Get(s, "prompt_cache_hit_tokens").Int())
	}
	return n
}

// UsageNumbers are the counts UsageCounts reads.
type UsageNumbers struct {
	Prompt, Completion, Total, Cached, Reasoning, CacheWrite int
}

// AppendMessageText appends the generated text of a non-streamed response
// body's choices (content, reasoning, refusal, tool calls) to dst.
func AppendMessageText(dst []byte, body []byte) []byte {
	gjson.GetBytes(body, "choices").ForEach(func(_, ch gjson.Result) bool {
		return appendText(&dst, ch.Get("message"))
	})
	return dst
}

func appendText(dst *[]byte, msg gjson.Result) bool {
	msg.ForEach(func(k, v gjson.Result) bool {
		switch {
		case textMember(k.Str):
			if v.Type == gjson.String {
				*dst = append(*dst, v.Str...)
			}
		case k.Str == "tool_calls":
			v.ForEach(func(_, tc gjson.Result) bool {
				f := tc.Get("function")
				*dst = append(*dst, f.Get("name").Str...)
				*dst = append(*dst, f.Get("arguments").Str...)
				return true
			})
		}
		return true
	})
	return true
}
