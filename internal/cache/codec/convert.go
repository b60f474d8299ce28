package codec

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// accumulate joins chunks into the response they stream, the way the
// OpenAI SDKs' accumulators do: the first chunk with an id gives the
// response's head, the last usage wins, and each choice gathers its
// deltas (choiceAcc), in the order of the choices' indexes.
func accumulate(chunks []*openai.ChatChunk) *openai.ChatResponse {
	r := &openai.ChatResponse{Object: "chat.completion"}
	var order []int
	byIndex := map[int]*choiceAcc{}
	for _, ch := range chunks {
		if r.ID == "" {
			takeHead(r, ch)
		}
		if ch.Usage != nil {
			r.Usage = ch.Usage
		}
		for i := range ch.Choices {
			cc := &ch.Choices[i]
			a := byIndex[cc.Index]
			if a == nil {
				a = &choiceAcc{}
				byIndex[cc.Index] = a
				order = append(order, cc.Index)
			}
			a.add(cc)
		}
	}
	slices.Sort(order)
	for _, i := range order {
		r.Choices = append(r.Choices, byIndex[i].choice(i))
	}
	return r
}

// takeHead copies a chunk's head (id, created, model, fingerprint) and
// its unknown members into the response r.
func takeHead(r *openai.ChatResponse, ch *openai.ChatChunk) {
	r.ID, r.Created, r.Model, r.SystemFingerprint = ch.ID, ch.Created, ch.Model, ch.SystemFingerprint
	mergeExtra(&r.Extra, ch.Extra)
}

// mergeExtra copies the unknown members src into *dst (made when
// needed), but for a stream's "obfuscation" padding, which belongs to
// each chunk only.
func mergeExtra(dst *map[string]json.RawMessage, src map[string]json.RawMessage) {
	for k, v := range src {
		if k != "obfuscation" {
			if *dst == nil {
				*dst = map[string]json.RawMessage{}
			}
			(*dst)[k] = v
		}
	}
}

// choiceAcc gathers the deltas of one choice of a stream.
type choiceAcc struct {
	content, reasoning, refusal strings.Builder
	msg                         openai.Message // role and unknown members
	finish                      string
	calls                       []openai.ToolCall
	logprobs                    logprobsAcc
}

// add gathers one chunk's delta of the choice.
func (a *choiceAcc) add(cc *openai.ChunkChoice) {
	d := &cc.Delta
	if d.Role != "" {
		a.msg.Role = d.Role
	}
	for _, p := range []struct {
		s *string
		b *strings.Builder
	}{{d.Content, &a.content}, {d.ReasoningContent, &a.reasoning}, {d.Refusal, &a.refusal}} {
		if p.s != nil {
			p.b.WriteString(*p.s)
		}
	}
	mergeExtra(&a.msg.Extra, d.Extra)
	a.calls = addToolCalls(a.calls, d.ToolCalls)
	if cc.FinishReason != nil {
		a.finish = *cc.FinishReason
	}
	if len(cc.Logprobs) > 0 {
		a.logprobs.add(gjson.ParseBytes(cc.Logprobs))
	}
}

// choice is the gathered choice, at index i: the role defaults to
// assistant, the content is null when there is none and tool calls were
// made, a refusal is the message's "refusal" member, and the tool calls
// lose the indexes of their deltas.
func (a *choiceAcc) choice(i int) openai.Choice {
	m := a.msg
	if m.Role == "" {
		m.Role = "assistant"
	}
	switch {
	case a.content.Len() > 0 || len(a.calls) == 0:
		m.Content = openai.TextContent(a.content.String())
	default:
		m.Content = openai.NullContent()
	}
	m.ReasoningContent = a.reasoning.String()
	if a.refusal.Len() > 0 {
		if m.Extra == nil {
			m.Extra = map[string]json.RawMessage{}
		}
		m.Extra["refusal"], _ = openai.Marshal(a.refusal.String())
	}
	for j := range a.calls {
		a.calls[j].Index = nil
	}
	m.ToolCalls = a.calls
	return openai.Choice{Index: i, Message: m, FinishReason: a.finish, Logprobs: a.logprobs.raw()}
}

// logprobsAcc gathers a choice's streamed log probabilities as the
// non-streamed answer has them, {"content":[…],"refusal":[…]}: the items
// of every chunk's "content" and "refusal" arrays, in order (null when
// no chunk had that array). A choice none of whose chunks had a logprobs
// object has none: the member is left out. The typed accumulator and the
// joiner both gather with it, so they agree.
type logprobsAcc struct {
	seen             bool   // a chunk had a logprobs object
	content, refusal []byte // the arrays' items, comma-separated; nil: no array
}

// add gathers one chunk's logprobs value.
func (l *logprobsAcc) add(v gjson.Result) {
	if !v.IsObject() {
		return
	}
	l.seen = true
	v.ForEach(func(k, arr gjson.Result) bool {
		var dst *[]byte
		switch k.Str {
		case "content":
			dst = &l.content
		case "refusal":
			dst = &l.refusal
		}
		if dst == nil || !arr.IsArray() {
			return true
		}
		if *dst == nil {
			*dst = make([]byte, 0, len(arr.Raw))
		}
		arr.ForEach(func(_, item gjson.Result) bool {
			if len(*dst) > 0 {
				*dst = append(*dst, ',')
			}
			*dst = append(*dst, item.Raw...)
			return true
		})
		return true
	})
}

// raw is the gathered logprobs object (not compacted), nil for none.
func (l *logprobsAcc) raw() []byte {
	if !l.seen {
		return nil
	}
	b := make([]byte, 0, 32+len(l.content)+len(l.refusal))
	b = appendItems(append(b, `{"content":`...), l.content)
	b = appendItems(append(b, `,"refusal":`...), l.refusal)
	return append(b, '}')
}

// appendItems appends items as an array, or null when nil.
func appendItems(b, items []byte) []byte {
	if items == nil {
		return append(b, "null"...)
	}
	return append(append(append(b, '['), items...), ']')
}

// addToolCalls merges tool-call deltas into calls: a delta with a new
// index (or, without an index, with an id) starts a call; the others
// extend the call they name (or the last one).
func addToolCalls(calls []openai.ToolCall, deltas []openai.ToolCall) []openai.ToolCall {
	for _, d := range deltas {
		at := -1
		for j := range calls {
			if d.Index != nil && calls[j].Index != nil && *calls[j].Index == *d.Index {
				at = j
			}
		}
		if at < 0 && d.Index == nil && d.ID == "" && len(calls) > 0 {
			at = len(calls) - 1
		}
		if at < 0 {
			c := d
			if c.Index == nil {
				n := len(calls)
				c.Index = &n
			}
			if c.Type == "" {
				c.Type = "function"
			}
			calls = append(calls, c)
			continue
		}
		c := &calls[at]
		if d.ID != "" {
			c.ID = d.ID
		}
		if d.Function.Name != "" {
			c.Function.Name = d.Function.Name
		}
		c.Function.Arguments += d.Function.Arguments
		for k, v := range d.Extra {
			if c.Extra == nil {
				c.Extra = map[string]json.RawMessage{}
			}
			c.Extra[k] = v
		}
	}
	return calls
}

// splitResponse returns a response as a stream: one chunk per choice
// with its whole message, one with its finish reason, and the usage chunk.
func splitResponse(r *openai.ChatResponse) []*openai.ChatChunk {
	head := func() *openai.ChatChunk {
		return &openai.ChatChunk{ID: r.ID, Object: "chat.completion.chunk", Created: r.Created, Model: r.Model, SystemFingerprint: r.SystemFingerprint}
	}
	var out []*openai.ChatChunk
	for _, c := range r.Choices {
		m := &c.Message
		d := openai.Delta{Role: m.Role}
		if d.Role == "" {
			d.Role = "assistant"
		}
		if s := m.Content.String(); s != "" || len(m.ToolCalls) == 0 {
			d.Content = &s
		}
		if m.ReasoningContent != "" {
			d.ReasoningContent = &m.ReasoningContent
		}
		for k, v := range m.Extra {
			if k == "refusal" {
				var s string
				if json.Unmarshal(v, &s) == nil && s != "" {
					d.Refusal = &s
				}
				continue
			}
			if d.Extra == nil {
				d.Extra = map[string]json.RawMessage{}
			}
			d.Extra[k] = v
		}
		for j, tc := range m.ToolCalls {
			tc.Index = &j
			d.ToolCalls = append(d.ToolCalls, tc)
		}
		ch := head()
		ch.Choices = []openai.ChunkChoice{{Index: c.Index, Delta: d}}
		out = append(out, ch)
		finish := c.FinishReason
		ch = head()
		ch.Choices = []openai.ChunkChoice{{Index: c.Index, FinishReason: &finish}}
		out = append(out, ch)
	}
	if r.Usage != nil {
		ch := head()
		ch.Choices, ch.Usage = []openai.ChunkChoice{}, r.Usage
		out = append(out, ch)
	}
	return out
}
