package bedrock

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// The Converse request, as the API reference names its members.
type (
	request struct {
		Messages        []message        `json:"messages"`
		System          []systemBlock    `json:"system,omitempty"`
		InferenceConfig *inferenceConfig `json:"inferenceConfig,omitempty"`
		ToolConfig      *toolConfig      `json:"toolConfig,omitempty"`
		// AdditionalModelRequestFields carries model-specific members
		// (Claude's thinking).
		AdditionalModelRequestFields map[string]any `json:"additionalModelRequestFields,omitempty"`
	}
	systemBlock struct {
		Text string `json:"text"`
	}
	message struct {
		Role    string  `json:"role"`
		Content []block `json:"content"`
	}
	// block is a ContentBlock: a union, exactly one member set.
	block struct {
		Text             *string           `json:"text,omitempty"`
		Image            *image            `json:"image,omitempty"`
		ToolUse          *toolUse          `json:"toolUse,omitempty"`
		ToolResult       *toolResult       `json:"toolResult,omitempty"`
		ReasoningContent *reasoningContent `json:"reasoningContent,omitempty"`
	}
	image struct {
		Format string `json:"format"` // png, jpeg, gif, webp
		Source struct {
			Bytes string `json:"bytes"` // base64, as the JSON protocol carries blobs
		} `json:"source"`
	}
	toolUse struct {
		ToolUseID string          `json:"toolUseId"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
	}
	toolResult struct {
		ToolUseID string        `json:"toolUseId"`
		Content   []resultBlock `json:"content"`
	}
	resultBlock struct {
		Text string `json:"text"`
	}
	reasoningContent struct {
		ReasoningText *reasoningText `json:"reasoningText,omitempty"`
	}
	reasoningText struct {
		Text      string `json:"text"`
		Signature string `json:"signature,omitempty"`
	}
	inferenceConfig struct {
		MaxTokens     *int     `json:"maxTokens,omitempty"`
		Temperature   *float64 `json:"temperature,omitempty"`
		TopP          *float64 `json:"topP,omitempty"`
		StopSequences []string `json:"stopSequences,omitempty"`
	}
	toolConfig struct {
		Tools      []toolEntry    `json:"tools"`
		ToolChoice map[string]any `json:"toolChoice,omitempty"`
	}
	toolEntry struct {
		ToolSpec toolSpec `json:"toolSpec"`
	}
	toolSpec struct {
		Name        string `json:"name"`
		Description string `json:"description,omitempty"`
		InputSchema struct {
			JSON json.RawMessage `json:"json"`
		} `json:"inputSchema"`
	}
)

// thinkingBudgets map reasoning_effort to Claude's budget_tokens (1024 is
// the minimum).
var thinkingBudgets = map[string]int{"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}

// translateRequest turns an OpenAI chat request into a Converse request.
func translateRequest(req *openai.ChatRequest) ([]byte, error) {
	var out request
	lastToolTurnSigned, err := out.addMessages(req.Messages)
	if err != nil {
		return nil, err
	}
	if len(out.Messages) == 0 {
		return nil, openai.BadRequest("messages", "Bedrock needs at least one user message besides system messages")
	}
	stop, err := req.StopSequences()
	if err != nil {
		return nil, err
	}
	ic := inferenceConfig{MaxTokens: req.MaxCompletionTokens, Temperature: req.Temperature, TopP: req.TopP, StopSequences: stop}
	if ic.MaxTokens == nil {
		ic.MaxTokens = req.MaxTokens
	}
	if err := out.tools(req); err != nil {
		return nil, err
	}
	if err := out.think(req, &ic, lastToolTurnSigned); err != nil {
		return nil, err
	}
	if ic.MaxTokens != nil || ic.Temperature != nil || ic.TopP != nil || len(ic.StopSequences) > 0 {
		out.InferenceConfig = &ic
	}
	return openai.Marshal(out)
}

// addMessages translates the conversation: system and developer messages
// become the system blocks, tool messages toolResult blocks of a user
// turn, and turns of one role in a row merge (Converse wants them to
// alternate). It reports whether the latest assistant turn with tool
// calls kept its reasoning signature (true when there is none).
func (out *request) addMessages(msgs []openai.Message) (lastToolTurnSigned bool, err error) {
	lastToolTurnSigned = true
	for i := range msgs {
		m := &msgs[i]
		param := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "developer":
			if t := m.Content.String(); strings.TrimSpace(t) != "" {
				out.System = append(out.System, systemBlock{Text: t})
			}
		case "user":
			blocks, err := contentBlocks(m.Content, param)
			if err != nil {
				return false, err
			}
			out.add("user", blocks...)
		case "assistant":
			blocks, signed, err := assistantBlocks(m, param)
			if err != nil {
				return false, err
			}
			if len(m.ToolCalls) > 0 {
				lastToolTurnSigned = signed
			}
			out.add("assistant", blocks...)
		case "tool":
			if m.ToolCallID == "" {
				return false, openai.BadRequest(param+".tool_call_id", "a tool message needs the tool_call_id it answers")
			}
			res := &toolResult{ToolUseID: m.ToolCallID, Content: []resultBlock{{Text: m.Content.String()}}}
			out.add("user", block{ToolResult: res})
		default:
			return false, openai.BadRequest(param+".role", "role %q is not supported for Bedrock", m.Role)
		}
	}
	return lastToolTurnSigned, nil
}

// add appends blocks as a turn of role, or to the last turn when it has
// that role.
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

// assistantBlocks translates an assistant message: its reasoning (when
// the signature came back), text and tool calls. signed reports whether
// the signature came back.
func assistantBlocks(m *openai.Message, param string) (blocks []block, signed bool, err error) {
	var sig string
	if raw := m.Extra[openai.SignatureField]; raw != nil {
		_ = json.Unmarshal(raw, &sig)
	}
	if m.ReasoningContent != "" && sig != "" {
		blocks = append(blocks, block{ReasoningContent: &reasoningContent{ReasoningText: &reasoningText{Text: m.ReasoningContent, Signature: sig}}})
	}
	if t := m.Content.String(); strings.TrimSpace(t) != "" {
		blocks = append(blocks, block{Text: &t})
	}
	for j, tc := range m.ToolCalls {
		input := json.RawMessage(tc.Function.Arguments)
		if strings.TrimSpace(tc.Function.Arguments) == "" {
			input = json.RawMessage("{}")
		} else if !isJSONObject(input) {
			return nil, false, openai.BadRequest(fmt.Sprintf("%s.tool_calls[%d].function.arguments", param, j), "tool call arguments must be a JSON object for Bedrock")
		}
		blocks = append(blocks, block{ToolUse: &toolUse{ToolUseID: tc.ID, Name: tc.Function.Name, Input: input}})
	}
	return blocks, sig != "", nil
}

// isJSONObject reports whether raw is one valid JSON object.
func isJSONObject(raw json.RawMessage) bool {
	t := strings.TrimSpace(string(raw))
	return strings.HasPrefix(t, "{") && json.Valid(raw)
}

// imageFormats maps an image media type to Converse's image format.
var imageFormats = map[string]string{"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif", "image/webp": "webp"}

// contentBlocks translates user content. Images must be base64 data URLs
// of a format Converse takes: Bedrock fetches no URL, and neither does
// the bridge.
func contentBlocks(c openai.Content, param string) ([]block, error) {
	if c.Parts == nil {
		if strings.TrimSpace(c.Text) == "" {
			return nil, nil
		}
		t := c.Text
		return []block{{Text: &t}}, nil
	}
	var out []block
	for i, p := range c.Parts {
		where := fmt.Sprintf("%s.content[%d]", param, i)
		switch p.Type {
		case "text":
			if strings.TrimSpace(p.Text) != "" { // Converse refuses blank text blocks
				t := p.Text
				out = append(out, block{Text: &t})
			}
		case "image_url":
			if p.ImageURL == nil {
				return nil, openai.BadRequest(where+".image_url", "an image_url part needs its image_url")
			}
			img, err := imageBlock(p.ImageURL.URL, where+".image_url.url")
			if err != nil {
				return nil, err
			}
			out = append(out, block{Image: img})
		default:
			return nil, openai.BadRequest(where+".type", "content part type %q is not supported for Bedrock", p.Type)
		}
	}
	return out, nil
}

// imageBlock reads a base64 data URL of a png, jpeg, gif or webp image.
func imageBlock(u, param string) (*image, error) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return nil, openai.BadRequest(param, "Bedrock takes images as base64 data URLs (data:image/png;base64,…), not links")
	}
	meta, data, found := strings.Cut(rest, ",")
	mime, isB64 := strings.CutSuffix(meta, ";base64")
	if !found || !isB64 || !isBase64(data) {
		return nil, openai.BadRequest(param, "image data URLs must be base64")
	}
	format, ok := imageFormats[strings.ToLower(mime)]
	if !ok {
		return nil, openai.BadRequest(param, "image type %q is not one Bedrock takes (png, jpeg, gif, webp)", mime)
	}
	img := &image{Format: format}
	img.Source.Bytes = data
	return img, nil
}

// isBase64 reports whether s is standard, padded base64, without decoding
// it (images are large).
func isBase64(s string) bool {
	if len(s) == 0 || len(s)%4 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
		case c == '=' && i >= len(s)-2:
		default:
			return false
		}
	}
	return true
}

// tools translates tools and tool_choice into toolConfig. "auto" is
// Converse's default and is not sent (only some models take a
// toolChoice at all). Converse has no "none": the tools stay only when
// the conversation already holds tool blocks (Converse then requires
// toolConfig), without a choice.
func (out *request) tools(req *openai.ChatRequest) error {
	tc := &toolConfig{}
	for i, t := range req.Tools {
		if t.Type != "function" || t.Function == nil {
			return openai.BadRequest(fmt.Sprintf("tools[%d].type", i), "only function tools are supported for Bedrock")
		}
		spec := toolSpec{Name: t.Function.Name, Description: t.Function.Description}
		spec.InputSchema.JSON = t.Function.Parameters
		if len(spec.InputSchema.JSON) == 0 || string(spec.InputSchema.JSON) == "null" {
			spec.InputSchema.JSON = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		tc.Tools = append(tc.Tools, toolEntry{ToolSpec: spec})
	}
	mode, name, err := req.ToolChoiceMode()
	if err != nil || len(tc.Tools) == 0 {
		return err
	}
	switch mode {
	case "none":
		if !out.hasToolBlocks() {
			return nil
		}
	case "required":
		tc.ToolChoice = map[string]any{"any": struct{}{}}
	case "function":
		tc.ToolChoice = map[string]any{"tool": map[string]string{"name": name}}
	}
	out.ToolConfig = tc
	return nil
}

// hasToolBlocks reports whether the conversation holds toolUse or
// toolResult blocks.
func (out *request) hasToolBlocks() bool {
	for _, m := range out.Messages {
		for _, b := range m.Content {
			if b.ToolUse != nil || b.ToolResult != nil {
				return true
			}
		}
	}
	return false
}

// think turns reasoning_effort into Claude's extended thinking on Claude
// models (other models' reasoning settings differ and are left alone).
// As on Anthropic's own API, thinking is skipped when the latest tool
// turn lost its signature or tool_choice forces a tool, and max_tokens
// must exceed the budget.
func (out *request) think(req *openai.ChatRequest, ic *inferenceConfig, lastToolTurnSigned bool) error {
	effort := req.ReasoningEffort
	if effort == "" || effort == "none" {
		return nil
	}
	budget, ok := thinkingBudgets[effort]
	if !ok {
		return openai.BadRequest("reasoning_effort", "reasoning_effort %q is not one of none, minimal, low, medium, high", effort)
	}
	forced := out.ToolConfig != nil && (out.ToolConfig.ToolChoice["any"] != nil || out.ToolConfig.ToolChoice["tool"] != nil)
	if !strings.Contains(req.Model, "anthropic.claude") || !lastToolTurnSigned || forced {
		return nil
	}
	out.AdditionalModelRequestFields = map[string]any{"thinking": map[string]any{"type": "enabled", "budget_tokens": budget}}
	asked := 4096
	if ic.MaxTokens != nil {
		asked = *ic.MaxTokens
	}
	if ic.MaxTokens == nil || asked <= budget {
		total := budget + asked
		ic.MaxTokens = &total
	}
	ic.Temperature, ic.TopP = nil, nil // thinking requires the defaults
	return nil
}
