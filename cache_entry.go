package llmbridge

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// cacheEntry is one cached answer, in canonical form (the Chat
// Completions wire): the chat.completion body of a non-streamed request,
// or the chunks of a streamed one (the usage chunk included), whichever
// mode made it, as raw JSON. A chat client's hit is replayed from these
// bytes by the chat format's own pass-through relay, with no decoding;
// other formats and a hit in the other mode decode them (response,
// chunks).
type cacheEntry struct {
	Version       int               `json:"v"`
	Stored        int64             `json:"stored"` // Unix milliseconds
	Provider      string            `json:"provider,omitempty"`
	UpstreamModel string            `json:"upstream_model,omitempty"`
	Response      json.RawMessage   `json:"response,omitempty"`
	Chunks        []json.RawMessage `json:"chunks,omitempty"`

	// Format names the client format whose own wire Native or Events
	// hold: an answer with no canonical form here (OpenAI's Responses API
	// passed through), kept as it came and replayed only to that format.
	Format string          `json:"format,omitempty"`
	Native json.RawMessage `json:"native,omitempty"` // the response body
	Events []nativeEvent   `json:"events,omitempty"` // the stream, event by event
}

// nativeEvent is one stream event of a native entry, encoded as the pair
// [name, data].
type nativeEvent struct {
	Name string
	Data json.RawMessage
}

const cacheEntryVersion = 1

// encode writes the entry's JSON by hand: its raw members are copied as
// they are (a value that is not JSON makes the entry fail to decode,
// which is a miss), which costs a fraction of encoding/json's compacting.
func (e *cacheEntry) encode() ([]byte, error) {
	n := 128 + len(e.Provider) + len(e.UpstreamModel) + len(e.Response)
	for _, ch := range e.Chunks {
		n += len(ch) + 1
	}
	for _, ev := range e.Events {
		n += len(ev.Name) + len(ev.Data) + 8
	}
	n += len(e.Native)
	out := make([]byte, 0, n)
	switch {
	case e.Native != nil:
		out = append(out, `{"native":`...)
		out = append(out, e.Native...)
	case e.Events != nil:
		out = append(out, `{"events":[`...)
		for i, ev := range e.Events {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, '[')
			out = appendCanonicalString(out, ev.Name)
			out = append(out, ',')
			out = append(out, ev.Data...)
			out = append(out, ']')
		}
		out = append(out, ']')
	case e.Response != nil:
		out = append(out, `{"response":`...)
		out = append(out, e.Response...)
	default:
		out = append(out, `{"chunks":[`...)
		for i, ch := range e.Chunks {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, ch...)
		}
		out = append(out, ']')
	}
	return e.appendTail(out), nil
}

// tailSize bounds the length of what appendTail appends.
func tailSize(e *cacheEntry) int {
	return 96 + 6*(len(e.Provider)+len(e.UpstreamModel)) // \u00XX at worst
}

// appendTail ends an encoded entry whose answer member (response, or
// chunks) out holds: the other members, and the closing brace. The
// members' order is free (decodeCacheEntry looks them up by name), so a
// recorder can write the answer first, as it arrives, and this last.
func (e *cacheEntry) appendTail(out []byte) []byte {
	e.Version = cacheEntryVersion
	out = append(out, `,"v":`...)
	out = strconv.AppendInt(out, int64(e.Version), 10)
	out = append(out, `,"stored":`...)
	out = strconv.AppendInt(out, e.Stored, 10)
	out = append(out, `,"provider":`...)
	out = appendCanonicalString(out, e.Provider)
	out = append(out, `,"upstream_model":`...)
	out = appendCanonicalString(out, e.UpstreamModel)
	if e.Format != "" {
		out = append(out, `,"format":`...)
		out = appendCanonicalString(out, e.Format)
	}
	return append(out, '}')
}

// decodeCacheEntry reads an entry without copying: its raw members alias v.
func decodeCacheEntry(v []byte) (*cacheEntry, error) {
	if !gjson.ValidBytes(v) {
		return nil, errors.New("cache entry is not JSON")
	}
	raw := func(r gjson.Result) []byte {
		if r.Index > 0 && r.Index+len(r.Raw) <= len(v) {
			return v[r.Index : r.Index+len(r.Raw)]
		}
		return []byte(r.Raw)
	}
	f := gjson.GetManyBytes(v, "v", "stored", "provider", "upstream_model", "response", "chunks", "format", "native", "events")
	e := &cacheEntry{Version: int(f[0].Int()), Stored: f[1].Int(), Provider: f[2].Str, UpstreamModel: f[3].Str, Format: f[6].Str}
	if f[4].IsObject() {
		e.Response = raw(f[4])
	}
	f[5].ForEach(func(_, ch gjson.Result) bool {
		e.Chunks = append(e.Chunks, raw(ch))
		return true
	})
	if f[7].IsObject() {
		e.Native = raw(f[7])
	}
	f[8].ForEach(func(_, pair gjson.Result) bool {
		var ev nativeEvent
		i := 0
		pair.ForEach(func(_, m gjson.Result) bool {
			switch i {
			case 0:
				ev.Name = m.Str
			case 1:
				ev.Data = raw(m)
			}
			i++
			return true
		})
		e.Events = append(e.Events, ev)
		return i == 2 && ev.Data != nil
	})
	answers := 0
	for _, has := range []bool{e.Response != nil, len(e.Chunks) > 0, e.Native != nil, len(e.Events) > 0} {
		if has {
			answers++
		}
	}
	native := e.Native != nil || len(e.Events) > 0
	if e.Version != cacheEntryVersion || answers != 1 || native != (e.Format != "") || len(e.Events) > 0 && e.Events[len(e.Events)-1].Data == nil {
		return nil, errors.New("not a cache entry of this version")
	}
	return e, nil
}

// entryOf is the entry of a typed answer: r, or chunks.
func entryOf(r *ChatResponse, chunks []*ChatChunk) (*cacheEntry, error) {
	e := &cacheEntry{}
	var err error
	if r != nil {
		e.Response, err = openai.Marshal(r)
		return e, err
	}
	e.Chunks = make([]json.RawMessage, len(chunks))
	for i, ch := range chunks {
		if e.Chunks[i], err = openai.Marshal(ch); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// clean reports whether every choice of the answer finished normally. A
// native entry is checked by its format when made (nativeEntry).
func (e *cacheEntry) clean() bool {
	if e.Format != "" {
		return true
	}
	if e.Response != nil {
		ok, n := true, 0
		gjson.GetBytes(e.Response, "choices").ForEach(func(_, c gjson.Result) bool {
			n++
			ok = !openai.BadFinish(c.Get("finish_reason").Str)
			return ok
		})
		return ok && n > 0
	}
	finish := map[int64]string{}
	for _, ch := range e.Chunks {
		gjson.GetBytes(ch, "choices").ForEach(func(_, c gjson.Result) bool {
			f := c.Get("finish_reason")
			if i := c.Get("index").Int(); f.Type == gjson.String {
				finish[i] = f.Str
			} else if _, ok := finish[i]; !ok {
				finish[i] = ""
			}
			return true
		})
	}
	if len(finish) == 0 {
		return false
	}
	for _, f := range finish {
		if openai.BadFinish(f) {
			return false
		}
	}
	return true
}

// rawUsage is the answer's usage object, or nil.
func (e *cacheEntry) rawUsage() []byte {
	if e.Response != nil {
		if u := gjson.GetBytes(e.Response, "usage"); u.IsObject() {
			return []byte(u.Raw)
		}
		return nil
	}
	var out []byte
	for _, ch := range e.Chunks {
		if u := gjson.GetBytes(ch, "usage"); u.IsObject() {
			out = []byte(u.Raw)
		}
	}
	return out
}

// rawChunks is the answer as OpenAI chunks: the stored ones, or a stored
// response split (splitResponse) and encoded.
func (e *cacheEntry) rawChunks() ([]json.RawMessage, error) {
	if e.Response == nil {
		return e.Chunks, nil
	}
	r, err := e.response()
	if err != nil {
		return nil, err
	}
	conv, err := entryOf(nil, splitResponse(r))
	if err != nil {
		return nil, err
	}
	return conv.Chunks, nil
}

// chunks returns the answer as typed chunks: the stored chunks, or a
// stored response split (splitResponse).
func (e *cacheEntry) chunks() ([]*ChatChunk, error) {
	if e.Response != nil {
		r, err := e.response()
		if err != nil {
			return nil, err
		}
		return splitResponse(r), nil
	}
	out := make([]*ChatChunk, len(e.Chunks))
	for i, raw := range e.Chunks {
		out[i] = new(ChatChunk)
		if err := json.Unmarshal(raw, out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// response returns the answer as a typed response: the stored one, or
// the stored chunks accumulated (accumulate).
func (e *cacheEntry) response() (*ChatResponse, error) {
	if e.Response != nil {
		r := new(ChatResponse)
		return r, json.Unmarshal(e.Response, r)
	}
	chunks, err := e.chunks()
	if err != nil {
		return nil, err
	}
	return accumulate(chunks), nil
}

// accumulate joins chunks into the response they stream, the way the
// OpenAI SDKs' accumulators do.
func accumulate(chunks []*ChatChunk) *ChatResponse {
	r := &ChatResponse{Object: "chat.completion"}
	type acc struct {
		content, reasoning, refusal strings.Builder
		msg                         Message
		finish                      string
		calls                       []ToolCall
	}
	var order []int
	byIndex := map[int]*acc{}
	for _, ch := range chunks {
		if r.ID == "" {
			r.ID, r.Created, r.Model, r.SystemFingerprint = ch.ID, ch.Created, ch.Model, ch.SystemFingerprint
			for k, v := range ch.Extra {
				if k != "obfuscation" {
					if r.Extra == nil {
						r.Extra = map[string]json.RawMessage{}
					}
					r.Extra[k] = v
				}
			}
		}
		if ch.Usage != nil {
			r.Usage = ch.Usage
		}
		for i := range ch.Choices {
			cc := &ch.Choices[i]
			a := byIndex[cc.Index]
			if a == nil {
				a = &acc{}
				byIndex[cc.Index] = a
				order = append(order, cc.Index)
			}
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
			for k, v := range d.Extra {
				if k != "obfuscation" {
					if a.msg.Extra == nil {
						a.msg.Extra = map[string]json.RawMessage{}
					}
					a.msg.Extra[k] = v
				}
			}
			a.calls = addToolCalls(a.calls, d.ToolCalls)
			if cc.FinishReason != nil {
				a.finish = *cc.FinishReason
			}
		}
	}
	slices.Sort(order)
	for _, i := range order {
		a := byIndex[i]
		m := a.msg
		if m.Role == "" {
			m.Role = "assistant"
		}
		switch {
		case a.content.Len() > 0 || len(a.calls) == 0:
			m.Content = TextContent(a.content.String())
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
		r.Choices = append(r.Choices, Choice{Index: i, Message: m, FinishReason: a.finish})
	}
	return r
}

// addToolCalls merges tool-call deltas into calls: a delta with a new
// index (or, without an index, with an id) starts a call; the others
// extend the call they name (or the last one).
func addToolCalls(calls []ToolCall, deltas []ToolCall) []ToolCall {
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
func splitResponse(r *ChatResponse) []*ChatChunk {
	head := func() *ChatChunk {
		return &ChatChunk{ID: r.ID, Object: "chat.completion.chunk", Created: r.Created, Model: r.Model, SystemFingerprint: r.SystemFingerprint}
	}
	var out []*ChatChunk
	for _, c := range r.Choices {
		m := &c.Message
		d := Delta{Role: m.Role}
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
		ch.Choices = []ChunkChoice{{Index: c.Index, Delta: d}}
		out = append(out, ch)
		finish := c.FinishReason
		ch = head()
		ch.Choices = []ChunkChoice{{Index: c.Index, FinishReason: &finish}}
		out = append(out, ch)
	}
	if r.Usage != nil {
		ch := head()
		ch.Choices, ch.Usage = []ChunkChoice{}, r.Usage
		out = append(out, ch)
	}
	return out
}
