package anthropic

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
)

type (
	outMessage struct {
		ID           string     `json:"id"`
		Type         string     `json:"type"`
		Role         string     `json:"role"`
		Model        string     `json:"model"`
		Content      []outBlock `json:"content"`
		StopReason   *string    `json:"stop_reason"`
		StopSequence *string    `json:"stop_sequence"`
		Usage        outUsage   `json:"usage"`
	}
	// outBlock is a content block as the Messages API writes it: each type
	// with exactly its members.
	outBlock struct {
		Type      string          `json:"type"`
		Text      *string         `json:"text,omitempty"`
		Thinking  *string         `json:"thinking,omitempty"`
		Signature *string         `json:"signature,omitempty"`
		ID        string          `json:"id,omitempty"`
		Name      string          `json:"name,omitempty"`
		Input     json.RawMessage `json:"input,omitempty"`
	}
	outUsage struct {
		InputTokens              int `json:"input_tokens"`
		CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int `json:"cache_read_input_tokens"`
		OutputTokens             int `json:"output_tokens"`
	}
)

// StopReason maps a Chat finish_reason to the Messages stop_reason:
// stop → end_turn, length → max_tokens, tool_calls (and the legacy
// function_call) → tool_use, content_filter → refusal; anything else is
// end_turn. A finish that came with tool calls is tool_use whatever the
// upstream called it. (Chat does not say which stop sequence matched, so
// stop_sequence is never reported for translated answers.)
func StopReason(finish string, toolCalls bool) string {
	switch {
	case toolCalls, finish == "tool_calls", finish == "function_call":
		return "tool_use"
	case finish == "length":
		return "max_tokens"
	case finish == "content_filter":
		return "refusal"
	}
	return "end_turn"
}

// usageOf maps canonical usage to the Messages usage object: input_tokens
// excludes cache reads and writes, which have their own counts.
func usageOf(u *openai.Usage) outUsage {
	if u == nil {
		return outUsage{}
	}
	cached, written := u.CachedTokens(), u.CacheWriteTokens()
	return outUsage{InputTokens: max(u.PromptTokens-cached-written, 0), CacheReadInputTokens: cached,
		CacheCreationInputTokens: written, OutputTokens: u.CompletionTokens}
}

// MessageID returns the Messages id for a Chat response or chunk id.
func MessageID(id string) string {
	if strings.HasPrefix(id, "msg_") {
		return id
	}
	if id == "" {
		return "msg_" + randomHex()
	}
	return "msg_" + id
}

// ToolID returns a tool call's id for a tool_use block: the upstream's
// exactly (the client sends it back in tool_result, and Gemini's carry
// thought signatures), or a new one when the upstream gave none.
func ToolID(id string) string {
	if id != "" {
		return id
	}
	return "toolu_" + randomHex()
}

func randomHex() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// toolInput returns a tool call's arguments as the input object; arguments
// that are empty or not a JSON object become {} (as a cut-off call does in
// Anthropic's own accumulator).
func toolInput(args string) json.RawMessage {
	b := bytes.TrimSpace([]byte(args))
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return json.RawMessage("{}")
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, b)
	return buf.Bytes()
}

// EncodeMessage writes a canonical response as a Messages response: the
// first choice's reasoning as a thinking block (with its signature when
// the upstream gave one), its text (and refusal) as a text block, its tool
// calls as tool_use blocks, the mapped stop_reason and usage.
func EncodeMessage(r *openai.ChatResponse) ([]byte, error) {
	out := outMessage{ID: MessageID(r.ID), Type: "message", Role: "assistant", Model: r.Model, Content: []outBlock{}, Usage: usageOf(r.Usage)}
	finish := ""
	if len(r.Choices) > 0 {
		ch := &r.Choices[0]
		finish = ch.FinishReason
		m := &ch.Message
		if m.ReasoningContent != "" {
			sig := signatureOf(m.Extra)
			out.Content = append(out.Content, outBlock{Type: "thinking", Thinking: &m.ReasoningContent, Signature: &sig})
		}
		text := m.Content.String()
		if raw, ok := m.Extra["refusal"]; ok {
			var refusal string
			if json.Unmarshal(raw, &refusal) == nil {
				text += refusal
			}
		}
		if text != "" {
			out.Content = append(out.Content, outBlock{Type: "text", Text: &text})
		}
		for _, tc := range m.ToolCalls {
			out.Content = append(out.Content, outBlock{Type: "tool_use", ID: ToolID(tc.ID), Name: tc.Function.Name, Input: toolInput(tc.Function.Arguments)})
		}
	}
	stop := StopReason(finish, hasToolUse(out.Content))
	out.StopReason = &stop
	return openai.Marshal(out)
}

func hasToolUse(blocks []outBlock) bool {
	for _, b := range blocks {
		if b.Type == "tool_use" {
			return true
		}
	}
	return false
}

// signatureOf reads a reasoning signature kept in Extra, or "".
func signatureOf(extra map[string]json.RawMessage) string {
	var sig string
	if raw, ok := extra[SignatureField]; ok {
		_ = json.Unmarshal(raw, &sig)
	}
	return sig
}
