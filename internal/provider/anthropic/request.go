package anthropic

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// SignatureField is the message/delta member that carries a thinking
// block's signature next to reasoning_content (openai.SignatureField).
const SignatureField = openai.SignatureField

type (
	request struct {
		Model         string          `json:"model"`
		MaxTokens     int             `json:"max_tokens"`
		System        string          `json:"system,omitempty"`
		Messages      []message       `json:"messages"`
		Tools         []tool          `json:"tools,omitempty"`
		ToolChoice    *toolChoice     `json:"tool_choice,omitempty"`
		Stream        bool            `json:"stream,omitempty"`
		Temperature   *float64        `json:"temperature,omitempty"`
		TopP          *float64        `json:"top_p,omitempty"`
		StopSequences []string        `json:"stop_sequences,omitempty"`
		Thinking      *thinking       `json:"thinking,omitempty"`
		Metadata      json.RawMessage `json:"metadata,omitempty"`
		OutputConfig  *outputConfig   `json:"output_config,omitempty"`
	}
	// outputConfig carries structured outputs: format is
	// {"type":"json_schema","schema":…}.
	outputConfig struct {
		Format outputFormat `json:"format"`
	}
	outputFormat struct {
		Type   string          `json:"type"`
		Schema json.RawMessage `json:"schema"`
	}
	message struct {
		Role    string  `json:"role"`
		Content []block `json:"content"`
	}
	block struct {
		Type      string          `json:"type"`
		Text      string          `json:"text,omitempty"`
		Source    *source         `json:"source,omitempty"`
		ID        string          `json:"id,omitempty"`
		Name      string          `json:"name,omitempty"`
		Input     json.RawMessage `json:"input,omitempty"`
		ToolUseID string          `json:"tool_use_id,omitempty"`
		Content   string          `json:"content,omitempty"`
		Thinking  string          `json:"thinking,omitempty"`
		Signature string          `json:"signature,omitempty"`
	}
	source struct {
		Type      string `json:"type"` // base64 or url
		MediaType string `json:"media_type,omitempty"`
		Data      string `json:"data,omitempty"`
		URL       string `json:"url,omitempty"`
	}
	tool struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		InputSchema json.RawMessage `json:"input_schema"`
	}
	toolChoice struct {
		Type                   string `json:"type"`
		Name                   string `json:"name,omitempty"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
	}
	thinking struct {
		Type         string `json:"type"`
		BudgetTokens int    `json:"budget_tokens"`
	}
)

// thinkingBudgets map reasoning_effort to budget_tokens (1024 is the API's
// minimum).
var thinkingBudgets = map[string]int{"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}

// DefaultMaxTokens is the max_tokens sent (Anthropic requires one) when
// the client gives none: what the model family can produce, conservatively.
func DefaultMaxTokens(model string) int {
	switch {
	case strings.Contains(model, "claude-3-5"), strings.Contains(model, "claude-3.5"):
		return 8192
	case strings.Contains(model, "claude-3-"), strings.Contains(model, "claude-3."):
		return 4096
	default:
		return 16384 // Claude 3.7 and 4.x allow more; a client can always ask
	}
}

// translateRequest turns an OpenAI chat request into a Messages request.
func translateRequest(req *openai.ChatRequest) ([]byte, error) {
	out := request{Model: req.Model, Stream: req.Stream, Temperature: req.Temperature, TopP: req.TopP}
	lastToolTurnThinks, err := out.addMessages(req.Messages)
	if err != nil {
		return nil, err
	}
	if len(out.Messages) == 0 {
		return nil, openai.BadRequest("messages", "Anthropic needs at least one user message besides system messages")
	}
	out.MaxTokens = maxTokens(req)
	asked := out.MaxTokens
	stop, err := req.StopSequences()
	if err != nil {
		return nil, err
	}
	out.StopSequences = stop
	if err := translateTools(req, &out); err != nil {
		return nil, err
	}
	if err := out.think(req.ReasoningEffort, asked, lastToolTurnThinks); err != nil {
		return nil, err
	}
	out.Metadata = userMetadata(req)
	if out.OutputConfig, err = outputConfigOf(req.ResponseFormat); err != nil {
		return nil, err
	}
	return openai.Marshal(out)
}

// outputConfigOf translates response_format (from a Responses client,
// text.format) to structured outputs: a json_schema becomes
// output_config.format with the schema in the form Anthropic accepts
// (outputSchema); text asks for nothing. json_object has no Anthropic
// equivalent (it takes a schema), so it is refused rather than dropped.
func outputConfigOf(raw json.RawMessage) (*outputConfig, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var rf struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if json.Unmarshal(raw, &rf) != nil {
		return nil, openai.BadRequest("response_format", "response_format must be an object")
	}
	switch rf.Type {
	case "text":
		return nil, nil
	case "json_schema":
		if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
			return nil, openai.BadRequest("response_format.json_schema.schema", "Anthropic's structured outputs need response_format.json_schema.schema")
		}
		schema, err := outputSchema(rf.JSONSchema.Schema, "response_format.json_schema.schema")
		if err != nil {
			return nil, err
		}
		return &outputConfig{Format: outputFormat{Type: "json_schema", Schema: schema}}, nil
	case "json_object":
		return nil, openai.BadRequest("response_format", "response_format json_object is not supported for Anthropic, whose structured outputs take a schema: send response_format json_schema (text.format json_schema in the Responses API)")
	}
	return nil, openai.BadRequest("response_format.type", "response_format type %q is not supported for Anthropic", rf.Type)
}

// addMessages translates the conversation into out: system and developer
// messages join the system prompt, the others become turns. It reports
// whether the latest assistant turn with tool calls carries its thinking
// (true when there is none).
func (out *request) addMessages(msgs []openai.Message) (lastToolTurnThinks bool, err error) {
	var system []string
	lastToolTurnThinks = true
	for i := range msgs {
		m := &msgs[i]
		param := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "developer":
			system = append(system, m.Content.String())
		case "user":
			blocks, err := contentBlocks(m.Content, param)
			if err != nil {
				return false, err
			}
			out.add("user", blocks...)
		case "assistant":
			blocks, sig, err := assistantBlocks(m, param)
			if err != nil {
				return false, err
			}
			if len(m.ToolCalls) > 0 {
				lastToolTurnThinks = sig != ""
			}
			out.add("assistant", blocks...)
		case "tool":
			out.add("user", block{Type: "tool_result", ToolUseID: m.ToolCallID, Content: m.Content.String()})
		default:
			return false, openai.BadRequest(param+".role", "role %q is not supported for Anthropic", m.Role)
		}
	}
	out.System = strings.Join(system, "\n")
	return lastToolTurnThinks, nil
}

// add appends blocks to the conversation as a turn of role, or to the
// last turn when it has that role: roles must alternate.
func (out *request) add(role string, blocks ...block) {
	if len(blocks) == 0 {
		return
	}
	if n := len(out.Messages); n > 0 && out.Messages[n-1].Role == role {
		out.Messages[n-1].Content = append(out.Messages[n-1].Content, blocks...)
		return
	}
	out.Messages = append(out.Messages, message{Role: role, Content: blocks})
}

// assistantBlocks translates an assistant message: its thinking (when it
// kept the signature), text and tool calls. It returns the signature.
func assistantBlocks(m *openai.Message, param string) ([]block, string, error) {
	var blocks []block
	var sig string
	if raw := m.Extra[SignatureField]; raw != nil {
		_ = json.Unmarshal(raw, &sig)
	}
	if m.ReasoningContent != "" && sig != "" {
		blocks = append(blocks, block{Type: "thinking", Thinking: m.ReasoningContent, Signature: sig})
	}
	if t := m.Content.String(); t != "" {
		blocks = append(blocks, block{Type: "text", Text: t})
	}
	for j, tc := range m.ToolCalls {
		input := json.RawMessage(tc.Function.Arguments)
		if strings.TrimSpace(tc.Function.Arguments) == "" {
			input = json.RawMessage("{}")
		} else if !json.Valid(input) {
			return nil, "", openai.BadRequest(fmt.Sprintf("%s.tool_calls[%d].function.arguments", param, j), "tool call arguments must be JSON for Anthropic")
		}
		blocks = append(blocks, block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
	}
	return blocks, sig, nil
}

// maxTokens is the max_tokens to send: the client's cap, or the model's
// default.
func maxTokens(req *openai.ChatRequest) int {
	switch {
	case req.MaxCompletionTokens != nil:
		return *req.MaxCompletionTokens
	case req.MaxTokens != nil:
		return *req.MaxTokens
	}
	return DefaultMaxTokens(req.Model)
}

// think turns reasoning_effort into extended thinking; asked is the
// client's max_tokens, for the visible answer.
func (out *request) think(effort string, asked int, lastToolTurnThinks bool) error {
	if effort == "" || effort == "none" {
		return nil
	}
	budget, ok := thinkingBudgets[effort]
	if !ok {
		return openai.BadRequest("reasoning_effort", "reasoning_effort %q is not one of none, minimal, low, medium, high", effort)
	}
	// Anthropic rejects a tool-result turn whose assistant turn lost
	// its thinking block; clients that drop unknown fields lose it, so
	// that turn goes without thinking rather than failing.
	forced := out.ToolChoice != nil && (out.ToolChoice.Type == "any" || out.ToolChoice.Type == "tool")
	// Anthropic also refuses thinking when tool_choice forces a tool;
	// the client's explicit tool_choice wins over its effort hint.
	if !lastToolTurnThinks || forced {
		return nil
	}
	out.Thinking = &thinking{Type: "enabled", BudgetTokens: budget}
	if out.MaxTokens <= budget {
		// max_tokens counts thinking too and must exceed the budget:
		// keep the client's cap for the visible answer.
		out.MaxTokens = budget + asked
	}
	out.Temperature, out.TopP = nil, nil // thinking requires the defaults
	return nil
}

// userMetadata is metadata.user_id from the client's user member, or nil.
func userMetadata(req *openai.ChatRequest) json.RawMessage {
	u, ok := req.Extra["user"]
	if !ok {
		return nil
	}
	var id string
	if json.Unmarshal(u, &id) != nil || id == "" {
		return nil
	}
	meta, _ := openai.Marshal(map[string]string{"user_id": id})
	return meta
}

// contentBlocks translates user content. Images become base64 blocks (data
// URLs) or url blocks (fetched by Anthropic, not by the bridge).
func contentBlocks(c openai.Content, param string) ([]block, error) {
	if c.Parts == nil {
		if c.Text == "" {
			return nil, nil
		}
		return []block{{Type: "text", Text: c.Text}}, nil
	}
	var out []block
	for i, p := range c.Parts {
		switch p.Type {
		case "text":
			if p.Text != "" {
				out = append(out, block{Type: "text", Text: p.Text})
			}
		case "image_url":
			if p.ImageURL == nil {
				continue
			}
			u := p.ImageURL.URL
			if rest, ok := strings.CutPrefix(u, "data:"); ok {
				meta, data, found := strings.Cut(rest, ",")
				mime, isB64 := strings.CutSuffix(meta, ";base64")
				if !found || !isB64 {
					return nil, openai.BadRequest(fmt.Sprintf("%s.content[%d].image_url.url", param, i), "image data URLs must be base64")
				}
				out = append(out, block{Type: "image", Source: &source{Type: "base64", MediaType: mime, Data: data}})
			} else if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
				out = append(out, block{Type: "image", Source: &source{Type: "url", URL: u}})
			} else {
				return nil, openai.BadRequest(fmt.Sprintf("%s.content[%d].image_url.url", param, i), "image URL must be a data: or http(s) URL")
			}
		default:
			return nil, openai.BadRequest(fmt.Sprintf("%s.content[%d].type", param, i), "content part type %q is not supported for Anthropic", p.Type)
		}
	}
	return out, nil
}

func translateTools(req *openai.ChatRequest, out *request) error {
	for i, t := range req.Tools {
		if t.Type != "function" || t.Function == nil {
			return openai.BadRequest(fmt.Sprintf("tools[%d].type", i), "only function tools are supported for Anthropic")
		}
		schema := t.Function.Parameters
		if len(schema) == 0 {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		out.Tools = append(out.Tools, tool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema})
	}
	mode, name, err := req.ToolChoiceMode()
	if err != nil || mode == "" || len(out.Tools) == 0 {
		return err
	}
	tc := &toolChoice{Type: map[string]string{"auto": "auto", "none": "none", "required": "any", "function": "tool"}[mode], Name: name}
	if raw, ok := req.Extra["parallel_tool_calls"]; ok && string(raw) == "false" && tc.Type != "none" {
		tc.DisableParallelToolUse = true
	}
	out.ToolChoice = tc
	return nil
}
