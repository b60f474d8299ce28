package codec

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// encode writes the joined response as openai.Marshal writes a
// ChatResponse: the typed members in their fields' order, then the
// unknown ones sorted by name.
func (j *joiner) encode() ([]byte, bool) {
	out := make([]byte, 0, 256+j.size())
	out = append(out, `{"id":`...)
	out = openai.AppendString(out, j.id)
	out = append(out, `,"object":"chat.completion","created":`...)
	out = strconv.AppendInt(out, j.created, 10)
	out = append(out, `,"model":`...)
	out = openai.AppendString(out, j.model)
	out = append(out, `,"choices":[`...)
	slices.SortFunc(j.choices, func(a, b *joinChoice) int { return cmp.Compare(a.index, b.index) })
	for i, c := range j.choices {
		if i > 0 {
			out = append(out, ',')
		}
		out = c.encode(out)
	}
	out = append(out, ']')
	if j.usage != "" {
		var ok bool
		if out, ok = appendUsage(append(out, `,"usage":`...), j.usage); !ok {
			return nil, false
		}
	}
	if j.fp != "" {
		out = append(out, `,"system_fingerprint":`...)
		out = openai.AppendString(out, j.fp)
	}
	return append(j.extra.appendSorted(out, nil), '}'), true
}

// size is about the length of the joined texts.
func (j *joiner) size() int {
	n := len(j.usage)
	for _, c := range j.choices {
		n += len(c.content) + len(c.reasoning) + len(c.refusal) + len(c.logprobs.content) + len(c.logprobs.refusal) + 64
		for _, tc := range c.calls {
			n += len(tc.args) + len(tc.id) + len(tc.name) + 64
		}
	}
	return n
}

// messageFields are the members of a Message that its Extra never
// writes (EncodeWithExtra skips them).
var messageFields = []string{"role", "content", "name", "tool_calls", "tool_call_id", "reasoning_content"}

// encode writes the choice as choiceAcc.choice makes it and Marshal
// writes it.
func (a *joinChoice) encode(out []byte) []byte {
	out = append(out, `{"index":`...)
	out = strconv.AppendInt(out, int64(a.index), 10)
	out = append(out, `,"message":{"role":`...)
	role := a.role
	if role == "" {
		role = "assistant"
	}
	out = openai.AppendString(out, role)
	out = append(out, `,"content":`...)
	if len(a.content) > 0 || len(a.calls) == 0 {
		out = openai.AppendString(out, bytesText(a.content))
	} else {
		out = append(out, "null"...)
	}
	if len(a.calls) > 0 {
		out = append(out, `,"tool_calls":[`...)
		for i := range a.calls {
			if i > 0 {
				out = append(out, ',')
			}
			out = a.calls[i].encode(out)
		}
		out = append(out, ']')
	}
	if len(a.reasoning) > 0 {
		out = append(out, `,"reasoning_content":`...)
		out = openai.AppendString(out, bytesText(a.reasoning))
	}
	extra := a.extra
	if len(a.refusal) > 0 {
		extra = append(slices.Clip(extra), member{"refusal", string(openai.AppendString(nil, bytesText(a.refusal)))})
	}
	out = extra.appendSorted(out, messageFields)
	out = append(out, `},"finish_reason":`...)
	out = openai.AppendString(out, a.finish)
	if lp := a.logprobs.raw(); lp != nil {
		out = appendCompact(append(out, `,"logprobs":`...), bytesText(lp))
	}
	return append(out, '}')
}

// encode writes a joined tool call (its index dropped).
func (c *joinCall) encode(out []byte) []byte {
	out = append(out, '{')
	if c.id != "" {
		out = append(out, `"id":`...)
		out = openai.AppendString(out, c.id)
		out = append(out, ',')
	}
	if c.typ != "" {
		out = append(out, `"type":`...)
		out = openai.AppendString(out, c.typ)
		out = append(out, ',')
	}
	out = append(out, `"function":{`...)
	if c.name != "" {
		out = append(out, `"name":`...)
		out = openai.AppendString(out, c.name)
		out = append(out, ',')
	}
	out = append(out, `"arguments":`...)
	out = openai.AppendString(out, bytesText(c.args))
	out = append(out, '}')
	return append(c.extra.appendSorted(out, []string{"index", "id", "type", "function"}), '}')
}

// appendSorted appends the members but those named in skip, sorted by
// name, each as `,"name":value` with the value compacted (as
// EncodeWithExtra writes a type's Extra). out ends an object's members.
func (m members) appendSorted(out []byte, skip []string) []byte {
	if len(m) == 0 {
		return out
	}
	sorted := slices.SortedFunc(slices.Values(m), func(a, b member) int { return strings.Compare(a.key, b.key) })
	for _, x := range sorted {
		if slices.Contains(skip, x.key) {
			continue
		}
		out = append(out, ',', '"')
		out = append(out, x.key...) // a plainName: no escapes
		out = append(out, '"', ':')
		out = appendCompact(out, x.raw)
	}
	return out
}

// appendCompact appends the JSON value raw without insignificant
// whitespace (json.Compact, which leaves everything else as it is).
func appendCompact(out []byte, raw string) []byte {
	if !strings.ContainsAny(raw, " \t\r\n") {
		return append(out, raw...)
	}
	b := bytes.NewBuffer(out)
	if json.Compact(b, []byte(raw)) != nil {
		return append(out, raw...) // not reached: raw was read from valid JSON
	}
	return b.Bytes()
}

// appendUsage appends the usage object raw as the Usage type writes it:
// by hand for the usual three counts, else through the type itself.
func appendUsage(out []byte, raw string) ([]byte, bool) {
	var n [3]int64
	var seen uint16
	ok := true
	gjson.Parse(raw).ForEach(func(k, v gjson.Result) bool {
		i := uint(slices.Index([]string{"prompt_tokens", "completion_tokens", "total_tokens"}, k.Str))
		ok = i < 3 && plainName(k.Raw) && once(&seen, i) && v.Type == gjson.Number && integer(v, &n[i]) && n[i] == int64(int(n[i]))
		return ok
	})
	if ok {
		out = append(out, `{"prompt_tokens":`...)
		out = strconv.AppendInt(out, n[0], 10)
		out = append(out, `,"completion_tokens":`...)
		out = strconv.AppendInt(out, n[1], 10)
		out = append(out, `,"total_tokens":`...)
		out = strconv.AppendInt(out, n[2], 10)
		return append(out, '}'), true
	}
	u := new(openai.Usage)
	if json.Unmarshal([]byte(raw), u) != nil {
		return nil, false
	}
	b, err := openai.Marshal(u)
	if err != nil {
		return nil, false
	}
	return append(out, b...), true
}

// bytesText is a view of b as a string, for the encoder.
func bytesText(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
