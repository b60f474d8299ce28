package responses

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/anthropic"
)

// Item kinds of a response's output.
const (
	kindMessage = iota
	kindFunctionCall
	kindReasoning
)

// item is one output item, built whole (FromChat) or a delta at a time
// (StreamEncoder).
type item struct {
	kind   int
	id     string
	status string // in_progress, completed, incomplete
	text   []byte // message text, reasoning summary, or function arguments
	callID string
	name   string
	// signature is a reasoning signature, sent as encrypted_content.
	signature []byte
	chatIndex int // the tool call's index in the chat stream
}

// appendJSON appends the item as the API shows it.
func (it *item) appendJSON(dst []byte) []byte {
	switch it.kind {
	case kindMessage:
		dst = appendStringField(append(dst, '{'), "id", it.id)
		dst = appendStringField(dst, "type", "message")
		dst = appendStringField(dst, "status", it.status)
		dst = appendKey(dst, "content")
		if it.status == "in_progress" {
			dst = append(dst, '[', ']')
		} else {
			dst = appendTextPart(append(dst, '['), it.text)
			dst = append(dst, ']')
		}
		dst = appendStringField(dst, "role", "assistant")
	case kindFunctionCall:
		dst = appendStringField(append(dst, '{'), "id", it.id)
		dst = appendStringField(dst, "type", "function_call")
		dst = appendStringField(dst, "status", it.status)
		dst = appendKey(dst, "arguments")
		dst = openai.AppendString(dst, string(it.text))
		dst = appendStringField(dst, "call_id", it.callID)
		dst = appendStringField(dst, "name", it.name)
	case kindReasoning:
		dst = appendStringField(append(dst, '{'), "id", it.id)
		dst = appendStringField(dst, "type", "reasoning")
		dst = appendKey(dst, "summary")
		if it.status == "in_progress" {
			dst = append(dst, '[', ']')
		} else {
			dst = appendSummaryPart(append(dst, '['), it.text)
			dst = append(dst, ']')
		}
		if len(it.signature) > 0 && it.status != "in_progress" {
			dst = appendKey(dst, "encrypted_content")
			dst = openai.AppendString(dst, signaturePrefix+string(it.signature))
		}
	}
	return append(dst, '}')
}

// appendTextPart appends an output_text part.
func appendTextPart(dst, text []byte) []byte {
	dst = appendStringField(append(dst, '{'), "type", "output_text")
	dst = append(dst, `,"annotations":[],"logprobs":[]`...)
	dst = appendKey(dst, "text")
	return append(openai.AppendString(dst, string(text)), '}')
}

// appendSummaryPart appends a summary_text part.
func appendSummaryPart(dst, text []byte) []byte {
	dst = appendStringField(append(dst, '{'), "type", "summary_text")
	dst = appendKey(dst, "text")
	return append(openai.AppendString(dst, string(text)), '}')
}

// appendUsage appends the Responses usage object for a chat usage, or null.
func appendUsage(dst []byte, u *openai.Usage) []byte {
	if u == nil {
		return append(dst, "null"...)
	}
	dst = appendIntField(append(dst, '{'), "input_tokens", u.PromptTokens)
	dst = appendKey(dst, "input_tokens_details")
	dst = append(appendIntField(append(dst, '{'), "cached_tokens", u.CachedTokens()), '}')
	dst = appendIntField(dst, "output_tokens", u.CompletionTokens)
	dst = appendKey(dst, "output_tokens_details")
	dst = append(appendIntField(append(dst, '{'), "reasoning_tokens", u.ReasoningTokens()), '}')
	total := u.TotalTokens
	if total == 0 {
		total = u.PromptTokens + u.CompletionTokens
	}
	dst = appendIntField(dst, "total_tokens", total)
	return append(dst, '}')
}

// envelope is a Response object but for output, usage, status and error,
// which the encoders fill in.
type envelope struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	CreatedAt          int64             `json:"created_at"`
	Status             string            `json:"status"`
	Background         bool              `json:"background"`
	CompletedAt        *int64            `json:"completed_at"`
	Error              json.RawMessage   `json:"error"`
	IncompleteDetails  json.RawMessage   `json:"incomplete_details"`
	Instructions       *string           `json:"instructions"`
	MaxOutputTokens    *int64            `json:"max_output_tokens"`
	MaxToolCalls       *int64            `json:"max_tool_calls"`
	Model              string            `json:"model"`
	Output             json.RawMessage   `json:"output"`
	ParallelToolCalls  bool              `json:"parallel_tool_calls"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Reasoning          reasoningEcho     `json:"reasoning"`
	Store              bool              `json:"store"`
	Temperature        float64           `json:"temperature"`
	Text               json.RawMessage   `json:"text"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	Tools              []Tool            `json:"tools"`
	TopP               float64           `json:"top_p"`
	Truncation         string            `json:"truncation"`
	Usage              json.RawMessage   `json:"usage"`
	User               *string           `json:"user"`
	Metadata           map[string]string `json:"metadata"`
}

type reasoningEcho struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

// newEnvelope fills what the request determines. The bridge stores
// nothing, so store is always false.
func newEnvelope(t *Translation, id, model string, created int64) envelope {
	env := envelope{ID: id, Object: "response", CreatedAt: created, Model: model, Error: null, IncompleteDetails: null,
		ParallelToolCalls: true, Temperature: 1, TopP: 1, Truncation: "disabled",
		Text: json.RawMessage(`{"format":{"type":"text"}}`), ToolChoice: json.RawMessage(`"auto"`),
		Tools: []Tool{}, Metadata: map[string]string{}}
	if t == nil || t.Request == nil {
		return env
	}
	r := t.Request
	env.Instructions = r.Instructions
	env.MaxOutputTokens = r.MaxOutputTokens
	if r.ParallelToolCalls != nil {
		env.ParallelToolCalls = *r.ParallelToolCalls
	}
	if r.Reasoning != nil {
		env.Reasoning = reasoningEcho{r.Reasoning.Effort, r.Reasoning.Summary}
	}
	if r.Temperature != nil {
		env.Temperature = *r.Temperature
	}
	if r.TopP != nil {
		env.TopP = *r.TopP
	}
	if r.Text != nil && r.Text.Format != nil {
		env.Text, _ = openai.Marshal(r.Text)
	}
	if len(r.ToolChoice) > 0 && !isNull(r.ToolChoice) {
		env.ToolChoice = r.ToolChoice
	}
	for _, tool := range r.Tools {
		if tool.Type == "function" { // the tools the response could use
			env.Tools = append(env.Tools, tool)
		}
	}
	if r.Metadata != nil {
		env.Metadata = r.Metadata
	}
	if raw, ok := r.Extra["truncation"]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil && s != "" {
			env.Truncation = s
		}
	}
	if raw, ok := r.Extra["user"]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			env.User = &s
		}
	}
	return env
}

var null = json.RawMessage("null")

// finish sets status, incomplete_details and completed_at from a chat
// finish reason.
func (env *envelope) finish(reason string, now int64) {
	switch reason {
	case "length":
		env.Status = "incomplete"
		env.IncompleteDetails = json.RawMessage(`{"reason":"max_output_tokens"}`)
	case "content_filter":
		env.Status = "incomplete"
		env.IncompleteDetails = json.RawMessage(`{"reason":"content_filter"}`)
	default:
		env.Status = "completed"
		env.CompletedAt = &now
	}
}

// marshal encodes the envelope with the given output items and usage.
func (env *envelope) marshal(items []*item, usage *openai.Usage) ([]byte, error) {
	out := []byte{'['}
	for i, it := range items {
		if i > 0 {
			out = append(out, ',')
		}
		out = it.appendJSON(out)
	}
	env.Output = append(out, ']')
	env.Usage = appendUsage(nil, usage)
	if b, ok := env.appendJSON(make([]byte, 0, env.sizeHint())); ok {
		return b, nil
	}
	return openai.Marshal(env) // encoding/json's error for what it cannot write (a NaN, an invalid raw member)
}

// appendJSON appends the envelope as encoding/json writes it (no HTML
// escapes; TestEnvelopeIsEncodingJSON holds the two equal), by hand: the
// stream's first event carries it from deep in the relay, where
// encoding/json's nested encoders took a translated stream's handler past
// its first 8 KiB of stack. ok is false where encoding/json would fail.
func (env *envelope) appendJSON(dst []byte) (_ []byte, ok bool) {
	dst = appendStringField(append(dst, '{'), "id", env.ID)
	dst = appendStringField(dst, "object", env.Object)
	dst = strconv.AppendInt(appendKey(dst, "created_at"), env.CreatedAt, 10)
	dst = appendStringField(dst, "status", env.Status)
	dst = strconv.AppendBool(appendKey(dst, "background"), env.Background)
	dst = appendKey(dst, "completed_at")
	if env.CompletedAt == nil {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendInt(dst, *env.CompletedAt, 10)
	}
	raws := [...]struct {
		name string
		raw  json.RawMessage
	}{{"error", env.Error}, {"incomplete_details", env.IncompleteDetails}}
	for _, r := range raws {
		if dst, ok = openai.AppendRaw(appendKey(dst, r.name), r.raw); !ok {
			return dst, false
		}
	}
	dst = appendNullableString(appendKey(dst, "instructions"), env.Instructions)
	dst = appendNullableInt(appendKey(dst, "max_output_tokens"), env.MaxOutputTokens)
	dst = appendNullableInt(appendKey(dst, "max_tool_calls"), env.MaxToolCalls)
	dst = appendStringField(dst, "model", env.Model)
	if dst, ok = openai.AppendRaw(appendKey(dst, "output"), env.Output); !ok {
		return dst, false
	}
	return env.appendRest(dst)
}

// appendRest is appendJSON's members from parallel_tool_calls on.
func (env *envelope) appendRest(dst []byte) (_ []byte, ok bool) {
	dst = strconv.AppendBool(appendKey(dst, "parallel_tool_calls"), env.ParallelToolCalls)
	dst = appendNullableString(appendKey(dst, "previous_response_id"), env.PreviousResponseID)
	dst = appendNullableString(appendKey(append(appendKey(dst, "reasoning"), '{'), "effort"), env.Reasoning.Effort)
	dst = append(appendNullableString(appendKey(dst, "summary"), env.Reasoning.Summary), '}')
	dst = strconv.AppendBool(appendKey(dst, "store"), env.Store)
	if dst, ok = appendFloat(appendKey(dst, "temperature"), env.Temperature); !ok {
		return dst, false
	}
	for _, r := range [...]struct {
		name string
		raw  json.RawMessage
	}{{"text", env.Text}, {"tool_choice", env.ToolChoice}} {
		if dst, ok = openai.AppendRaw(appendKey(dst, r.name), r.raw); !ok {
			return dst, false
		}
	}
	dst = appendKey(dst, "tools")
	if env.Tools == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range env.Tools {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, ok = env.Tools[i].appendJSON(dst); !ok {
				return dst, false
			}
		}
		dst = append(dst, ']')
	}
	if dst, ok = appendFloat(appendKey(dst, "top_p"), env.TopP); !ok {
		return dst, false
	}
	dst = appendStringField(dst, "truncation", env.Truncation)
	if dst, ok = openai.AppendRaw(appendKey(dst, "usage"), env.Usage); !ok {
		return dst, false
	}
	dst = appendNullableString(appendKey(dst, "user"), env.User)
	dst = appendKey(dst, "metadata")
	if env.Metadata == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '{')
		var keys []string
		if len(env.Metadata) > 0 {
			keys = slices.Sorted(maps.Keys(env.Metadata))
		}
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = openai.AppendString(append(openai.AppendString(dst, k), ':'), env.Metadata[k])
		}
		dst = append(dst, '}')
	}
	return append(dst, '}'), true
}

// sizeHint is room for the envelope's JSON, so that the buffer rarely
// grows.
func (env *envelope) sizeHint() int {
	n := 640 + len(env.ID) + len(env.Model) + len(env.Output) + len(env.Usage) + len(env.Text) + len(env.ToolChoice)
	if env.Instructions != nil {
		n += len(*env.Instructions) + len(*env.Instructions)/8
	}
	for i := range env.Tools {
		t := &env.Tools[i]
		n += 64 + len(t.Name) + len(t.Parameters) + 32*len(t.Extra)
		if t.Description != nil {
			n += len(*t.Description)
		}
	}
	for k, v := range env.Metadata {
		n += 8 + len(k) + len(v)
	}
	return n
}

// appendJSON appends the tool as its MarshalJSON writes it
// (openai.EncodeWithExtra): the members it models, then Extra's.
func (t *Tool) appendJSON(dst []byte) (_ []byte, ok bool) {
	dst = appendStringField(append(dst, '{'), "type", t.Type)
	if t.Name != "" {
		dst = appendStringField(dst, "name", t.Name)
	}
	if t.Description != nil {
		dst = appendStringField(dst, "description", *t.Description)
	}
	if len(t.Parameters) > 0 {
		if nearMaxDepth(t.Parameters) {
			return dst, false
		}
		if dst, ok = openai.AppendRaw(appendKey(dst, "parameters"), t.Parameters); !ok {
			return dst, false
		}
	}
	if t.Strict != nil {
		dst = strconv.AppendBool(appendKey(dst, "strict"), *t.Strict)
	}
	for _, raw := range t.Extra {
		if nearMaxDepth(raw) {
			return dst, false
		}
	}
	return openai.AppendExtra(dst, t.Extra, toolFields)
}

// nearMaxDepth reports whether raw may nest as deep as encoding/json's
// limit (10,000) less one: inside a tool, whose MarshalJSON output
// encoding/json reads again one level down, such a value is refused, so
// appendJSON leaves it to encoding/json for the same error. (It counts
// every bracket, in strings too: a false yes costs only that fallback.)
func nearMaxDepth(raw []byte) bool {
	const limit = 10000 - 1
	return len(raw) >= 2*limit && bytes.Count(raw, []byte{'['})+bytes.Count(raw, []byte{'{'}) >= limit
}

// appendNullableString appends *s, or null.
func appendNullableString(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	return openai.AppendString(dst, *s)
}

// appendNullableInt appends *n, or null.
func appendNullableInt(dst []byte, n *int64) []byte {
	if n == nil {
		return append(dst, "null"...)
	}
	return strconv.AppendInt(dst, *n, 10)
}

// appendFloat appends f as encoding/json does; false for NaN and the
// infinities, which it refuses.
func appendFloat(dst []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, false
	}
	return openai.AppendFloat(dst, f), true
}

// ids names a response and its items from one base (the upstream's id, or
// a random one), so the names of one response are alike and unique.
type ids struct{ base string }

func newIDs(upstream string) ids {
	if upstream == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		upstream = hex.EncodeToString(b[:])
	}
	return ids{upstream}
}

func (n ids) response() string { return "resp_" + n.base }

func (n ids) item(kind, index int) string {
	prefix := [...]string{kindMessage: "msg_", kindFunctionCall: "fc_", kindReasoning: "rs_"}[kind]
	return prefix + n.base + "_" + strconv.Itoa(index)
}

func (n ids) call(index int) string { return "call_" + n.base + "_" + strconv.Itoa(index) }

// FromChat encodes a canonical chat response as a Response object: output
// items in the order reasoning (from reasoning_content, with a reasoning
// signature as encrypted_content), message (output_text), function calls
// (call_id = the chat tool call's id, so it round-trips); status completed,
// or incomplete with incomplete_details on a length or content_filter
// finish; usage translated (input/output/total tokens, cached and
// reasoning tokens). t supplies the request members a Response echoes; nil
// echoes defaults. Only the first choice is used (the Responses API has
// one).
func FromChat(resp *openai.ChatResponse, t *Translation) ([]byte, error) {
	n := newIDs(resp.ID)
	env := newEnvelope(t, n.response(), resp.Model, resp.Created)
	var items []*item
	finish := ""
	if len(resp.Choices) > 0 {
		ch := &resp.Choices[0]
		finish = ch.FinishReason
		m := &ch.Message
		sig := signatureOf(m.Extra)
		if m.ReasoningContent != "" || len(sig) > 0 {
			items = append(items, &item{kind: kindReasoning, text: []byte(m.ReasoningContent), signature: sig})
		}
		if text := m.Content.String(); text != "" || len(m.ToolCalls) == 0 {
			items = append(items, &item{kind: kindMessage, text: []byte(text)})
		}
		for i, tc := range m.ToolCalls {
			items = append(items, &item{kind: kindFunctionCall, callID: tc.ID, name: tc.Function.Name, text: []byte(tc.Function.Arguments), chatIndex: i})
		}
	}
	status := "completed"
	if finish == "length" || finish == "content_filter" {
		status = "incomplete"
	}
	for i, it := range items {
		it.id = n.item(it.kind, i)
		it.status = status
		if it.kind == kindFunctionCall && it.callID == "" {
			it.callID = n.call(i)
		}
	}
	env.finish(finish, t.now(resp.Created))
	return env.marshal(items, resp.Usage)
}

// now is the completion time: the Translation's clock (time.Now when
// unset), never before created.
func (t *Translation) now(created int64) int64 {
	clock := time.Now
	if t != nil && t.Clock != nil {
		clock = t.Clock
	}
	return max(clock().Unix(), created)
}

// signatureOf returns the reasoning signature in a message's or delta's
// extra members (a JSON string), or nil.
func signatureOf(extra map[string]json.RawMessage) []byte {
	raw, ok := extra[anthropic.SignatureField]
	if !ok {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil || s == "" {
		return nil
	}
	return []byte(s)
}
