package responses

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/anthropic"
)

// DroppedToolsHeader is the response header that lists, comma-separated,
// the hosted tool types a translated request dropped.
const DroppedToolsHeader = "X-LLMBridge-Dropped-Tools"

// signaturePrefix marks encrypted_content that the bridge wrote itself: a
// reasoning signature a chat target gave (Anthropic's). Anything else in
// encrypted_content is OpenAI's and means nothing to a chat target.
const signaturePrefix = "llmbridge:"

// Translation is what ToChat learned about a request besides the chat
// request itself: what it dropped, and the request, which the response
// encoders echo (instructions, tools, tool_choice, temperature, …).
type Translation struct {
	// Request is the decoded request.
	Request *Request
	// DroppedTools are the hosted tool types removed from tools, each once,
	// in request order.
	DroppedTools []string
	// DroppedItems are the input item types removed from the history
	// (calls of hosted tools), each once, in request order.
	DroppedItems []string
	// Clock gives completed_at; nil is time.Now. Tests set it.
	Clock func() time.Time
}

// DroppedToolsValue returns the X-LLMBridge-Dropped-Tools header value, or
// "" when nothing was dropped.
func (t *Translation) DroppedToolsValue() string {
	if t == nil {
		return ""
	}
	return strings.Join(t.DroppedTools, ",")
}

// ToChat decodes a Responses request body, validates it and translates it
// to the canonical chat request (see Request.ToChat). Every error is a 400
// invalid_request_error in OpenAI's shape, naming the member in Param.
func ToChat(body []byte) (*openai.ChatRequest, *Translation, *openai.APIError) {
	req, e := Decode(body)
	if e != nil {
		return nil, nil, e
	}
	return req.ToChat()
}

// ToChat translates a decoded request to the canonical chat request. It
// refuses what needs state the bridge does not keep (previous_response_id,
// conversation, stored prompts, item_reference, file ids, background
// mode) with a 400 that says what to send instead; hosted tools and calls
// of hosted tools in the history are dropped and listed in the
// Translation. The request is not modified.
func (r *Request) ToChat() (*openai.ChatRequest, *Translation, *openai.APIError) {
	if e := r.refuseState(); e != nil {
		return nil, nil, e
	}
	t := &Translation{Request: r}
	chat := &openai.ChatRequest{Model: r.Model, Temperature: r.Temperature, TopP: r.TopP}
	if r.Stream != nil && *r.Stream {
		chat.Stream = true
		chat.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	}
	if r.MaxOutputTokens != nil {
		n := int(min(*r.MaxOutputTokens, math.MaxInt32))
		chat.MaxTokens = &n
	}
	if r.Reasoning != nil && r.Reasoning.Effort != nil {
		chat.ReasoningEffort = *r.Reasoning.Effort
		if chat.ReasoningEffort == "xhigh" || chat.ReasoningEffort == "max" {
			chat.ReasoningEffort = "high" // the most the chat targets take
		}
	}
	if r.Text != nil && r.Text.Format != nil {
		chat.ResponseFormat = responseFormat(r.Text.Format)
	}
	msgs, e := r.messages(t)
	if e != nil {
		return nil, nil, e
	}
	chat.Messages = msgs
	if e := r.tools(chat, t); e != nil {
		return nil, nil, e
	}
	return chat, t, nil
}

func stateless(param, what string) *openai.APIError {
	return badRequest(param, "unsupported_parameter",
		"%s is not supported on this route: the bridge does not store responses or conversations. Send the full conversation history in input, with store: false (as Codex does).", what)
}

func (r *Request) refuseState() *openai.APIError {
	if r.PreviousResponseID != nil && *r.PreviousResponseID != "" {
		return stateless("previous_response_id", "previous_response_id")
	}
	if raw, ok := r.Extra["conversation"]; ok && !isNull(raw) {
		return stateless("conversation", "conversation")
	}
	if raw, ok := r.Extra["prompt"]; ok && !isNull(raw) {
		return badRequest("prompt", "unsupported_parameter", "Stored prompts (prompt) are not supported on this route; send the instructions and input themselves.")
	}
	if raw, ok := r.Extra["background"]; ok && string(raw) == "true" {
		return badRequest("background", "unsupported_parameter", "background mode is not supported on this route.")
	}
	if r.Input.IsZero() {
		return badRequest("input", "missing_required_parameter", "Missing required parameter: 'input'.")
	}
	return nil
}

func responseFormat(f *TextFormat) json.RawMessage {
	switch f.Type {
	case "json_object":
		return json.RawMessage(`{"type":"json_object"}`)
	case "json_schema":
		type schema struct {
			Name        string          `json:"name"`
			Description string          `json:"description,omitempty"`
			Schema      json.RawMessage `json:"schema"`
			Strict      *bool           `json:"strict,omitempty"`
		}
		b, _ := openai.Marshal(struct {
			Type       string `json:"type"`
			JSONSchema schema `json:"json_schema"`
		}{"json_schema", schema{f.Name, f.Description, f.Schema, f.Strict}})
		return b
	}
	return nil
}

// tools translates function tools, drops hosted ones, and maps
// tool_choice and parallel_tool_calls.
func (r *Request) tools(chat *openai.ChatRequest, t *Translation) *openai.APIError {
	for i := range r.Tools {
		tool := &r.Tools[i]
		if tool.Type != "function" {
			if !slices.Contains(t.DroppedTools, tool.Type) {
				t.DroppedTools = append(t.DroppedTools, tool.Type)
			}
			continue
		}
		def := &openai.FunctionDefinition{Name: tool.Name, Strict: tool.Strict}
		if tool.Description != nil {
			def.Description = *tool.Description
		}
		if len(tool.Parameters) > 0 && !isNull(tool.Parameters) {
			def.Parameters = tool.Parameters
		}
		chat.Tools = append(chat.Tools, openai.Tool{Type: "function", Function: def})
	}
	if e := r.toolChoice(chat, t); e != nil {
		return e
	}
	if len(chat.Tools) > 0 && r.ParallelToolCalls != nil {
		chat.Extra = map[string]json.RawMessage{"parallel_tool_calls": json.RawMessage(fmt.Sprint(*r.ParallelToolCalls))}
	}
	return nil
}

func (r *Request) toolChoice(chat *openai.ChatRequest, t *Translation) *openai.APIError {
	raw := r.ToolChoice
	if len(raw) == 0 || isNull(raw) {
		return nil
	}
	var mode string
	if json.Unmarshal(raw, &mode) == nil {
		switch mode {
		case "auto", "none":
		case "required":
			if len(chat.Tools) == 0 {
				return badRequest("tool_choice", "invalid_value", "tool_choice is required, but this route has no function tools to call (dropped hosted tools: %s).", t.DroppedToolsValue())
			}
		default:
			return badRequest("tool_choice", "invalid_value", "tool_choice must be auto, none, required or an object; got %q.", mode)
		}
		chat.ToolChoice, _ = openai.Marshal(mode)
		return nil
	}
	var obj toolChoiceObject
	if err := openai.DecodeExact(raw, &obj, toolChoiceFields); err != nil {
		if f, ok := err.(*openai.MemberFault); ok {
			return toAPIError(wrapParam("tool_choice", memberError(f)))
		}
		return badRequest("tool_choice", "invalid_type", "tool_choice must be a string or an object.")
	}
	switch obj.Type {
	case "function":
		if !hasFunction(chat.Tools, obj.Name) {
			return badRequest("tool_choice.name", "invalid_value", "tool_choice names the function %q, which is not among the tools.", obj.Name)
		}
		chat.ToolChoice, _ = openai.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": obj.Name}})
	case "allowed_tools":
		// Keep only the allowed functions; the mode applies to those.
		if obj.Mode != "auto" && obj.Mode != "required" {
			return badRequest("tool_choice.mode", "invalid_value", "tool_choice.mode must be auto or required; got %q.", obj.Mode)
		}
		kept := chat.Tools[:0]
		for _, tool := range chat.Tools {
			if slices.ContainsFunc(obj.Tools, func(a namedTool) bool { return a.Name == tool.Function.Name }) {
				kept = append(kept, tool)
			}
		}
		chat.Tools = kept
		if len(kept) == 0 {
			return badRequest("tool_choice.tools", "invalid_value", "tool_choice.tools allows none of the function tools this route can call.")
		}
		chat.ToolChoice, _ = openai.Marshal(obj.Mode)
	case "":
		return badRequest("tool_choice.type", "missing_required_parameter", "tool_choice needs a type.")
	default:
		return badRequest("tool_choice", "invalid_value", "tool_choice requires the %q tool, which this route cannot run (only function tools are translated).", obj.Type)
	}
	return nil
}

// toolChoiceObject is tool_choice in its object form.
type toolChoiceObject struct {
	Type  string      `json:"type"`
	Name  string      `json:"name"`
	Mode  string      `json:"mode"`
	Tools []namedTool `json:"tools"`
}

// toolChoiceFields: tool_choice is decoded case-sensitively
// (openai.DecodeExact), like the request around it.
var toolChoiceFields = openai.JSONFields[toolChoiceObject]()

// namedTool is a tool named in tool_choice.
type namedTool struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

func hasFunction(tools []openai.Tool, name string) bool {
	return slices.ContainsFunc(tools, func(t openai.Tool) bool { return t.Function != nil && t.Function.Name == name })
}

// history builds the chat messages of a request.
type history struct {
	msgs []openai.Message
	// reasoning waits for the assistant message it precedes.
	reasoning, signature string
	// images returned by tools wait for the end of the tool messages.
	images []openai.ContentPart
}

func (r *Request) messages(t *Translation) ([]openai.Message, *openai.APIError) {
	h := &history{msgs: make([]openai.Message, 0, len(r.Input.Items)+1)}
	if r.Instructions != nil && *r.Instructions != "" {
		h.msgs = append(h.msgs, openai.Message{Role: "system", Content: openai.TextContent(*r.Instructions)})
	}
	if r.Input.Items == nil {
		h.msgs = append(h.msgs, openai.Message{Role: "user", Content: openai.TextContent(r.Input.Text)})
		return h.msgs, nil
	}
	for i := range r.Input.Items {
		it := &r.Input.Items[i]
		param := fmt.Sprintf("input[%d]", i)
		if it.Kind() != "function_call_output" {
			h.flushImages()
		}
		switch it.Kind() {
		case "message":
			if e := h.message(it, param); e != nil {
				return nil, e
			}
		case "function_call":
			args := *it.Arguments
			if strings.TrimSpace(args) == "" {
				args = "{}"
			}
			call := openai.ToolCall{ID: it.CallID, Type: "function", Function: openai.FunctionCall{Name: it.Name, Arguments: args}}
			last := h.assistant()
			last.ToolCalls = append(last.ToolCalls, call)
		case "function_call_output":
			text, parts, err := outputParts(it.Output, param+".output")
			if err != nil {
				return nil, toAPIError(err)
			}
			media, e := chatParts(parts, param+".output")
			if e != nil {
				return nil, e
			}
			h.msgs = append(h.msgs, openai.Message{Role: "tool", ToolCallID: it.CallID, Content: openai.TextContent(text)})
			h.images = append(h.images, media...)
		case "reasoning":
			h.addReasoning(it)
		case "item_reference":
			return nil, badRequest(param, "unsupported_parameter", "item_reference needs stored items, which this route does not keep; send the item itself.")
		default: // a hosted tool's call, validated by Decode
			if !slices.Contains(t.DroppedItems, it.Type) {
				t.DroppedItems = append(t.DroppedItems, it.Type)
			}
		}
	}
	h.flushImages()
	return h.msgs, nil
}

// assistant returns the assistant message that tool calls join: the last
// message when it is the assistant's, else a new one.
func (h *history) assistant() *openai.Message {
	if n := len(h.msgs); n > 0 && h.msgs[n-1].Role == "assistant" && h.reasoning == "" && h.signature == "" {
		return &h.msgs[n-1]
	}
	h.msgs = append(h.msgs, openai.Message{Role: "assistant", Content: openai.NullContent()})
	m := &h.msgs[len(h.msgs)-1]
	h.takeReasoning(m)
	return m
}

func (h *history) takeReasoning(m *openai.Message) {
	m.ReasoningContent = h.reasoning
	if h.signature != "" {
		sig, _ := openai.Marshal(h.signature)
		m.Extra = map[string]json.RawMessage{anthropic.SignatureField: sig}
	}
	h.reasoning, h.signature = "", ""
}

func (h *history) addReasoning(it *Item) {
	var texts []string
	for _, p := range it.Content.Parts {
		texts = append(texts, p.Text)
	}
	if len(texts) == 0 { // no raw reasoning: the summary is what there is
		for _, p := range it.Summary {
			texts = append(texts, p.Text)
		}
	}
	if text := strings.Join(texts, "\n\n"); text != "" {
		if h.reasoning != "" {
			h.reasoning += "\n\n"
		}
		h.reasoning += text
	}
	if it.EncryptedContent != nil {
		if sig, ok := strings.CutPrefix(*it.EncryptedContent, signaturePrefix); ok {
			h.signature = sig
		}
	}
}

func (h *history) flushImages() {
	if len(h.images) == 0 {
		return
	}
	parts := append([]openai.ContentPart{{Type: "text", Text: "Files returned by the tool calls above:"}}, h.images...)
	h.msgs = append(h.msgs, openai.Message{Role: "user", Content: openai.PartsContent(parts...)})
	h.images = nil
}

func (h *history) message(it *Item, param string) *openai.APIError {
	role := it.Role
	if role == "developer" {
		role = "system" // what every chat target accepts
	}
	m := openai.Message{Role: role}
	switch {
	case it.Content.Parts == nil:
		m.Content = openai.TextContent(it.Content.Text)
	case role == "assistant":
		var b strings.Builder
		for _, p := range it.Content.Parts {
			b.WriteString(p.Text)
			b.WriteString(p.Refusal)
		}
		m.Content = openai.TextContent(b.String())
	default:
		text, media := splitParts(it.Content.Parts)
		if len(media) == 0 {
			m.Content = openai.TextContent(text)
			break
		}
		parts, e := chatParts(it.Content.Parts, param+".content")
		if e != nil {
			return e
		}
		m.Content = openai.PartsContent(parts...)
	}
	if role == "assistant" {
		// Text that follows the assistant's own tool calls (an upstream
		// that streamed the call first) joins that message: a tool result
		// must come right after the message that holds its call, and real
		// chat APIs refuse an assistant message in between.
		if n := len(h.msgs); n > 0 && h.reasoning == "" && h.signature == "" {
			last := &h.msgs[n-1]
			if last.Role == "assistant" && len(last.ToolCalls) > 0 && last.Content.String() == "" && !m.Content.IsZero() {
				last.Content = m.Content
				return nil
			}
		}
		h.takeReasoning(&m)
	}
	h.msgs = append(h.msgs, m)
	return nil
}

// splitParts joins the text parts (one per line) and returns the others.
func splitParts(parts []ContentPart) (string, []ContentPart) {
	var texts []string
	var media []ContentPart
	for _, p := range parts {
		if p.Type == "input_text" || p.Type == "output_text" {
			texts = append(texts, p.Text)
		} else {
			media = append(media, p)
		}
	}
	return strings.Join(texts, "\n"), media
}

// chatParts translates content parts to chat parts: text, image_url and
// file. Parts that need OpenAI's file storage are refused.
func chatParts(parts []ContentPart, param string) ([]openai.ContentPart, *openai.APIError) {
	var out []openai.ContentPart
	for i, p := range parts {
		pp := fmt.Sprintf("%s[%d]", param, i)
		switch p.Type {
		case "input_text", "output_text":
			out = append(out, openai.ContentPart{Type: "text", Text: p.Text})
		case "input_image":
			if p.ImageURL == nil {
				return nil, badRequest(pp+".file_id", "unsupported_parameter", "Image file ids need OpenAI's file storage, which this route does not have; send the image as a data: or https: URL in image_url.")
			}
			detail := p.Detail
			if detail == "original" {
				detail = "high"
			}
			out = append(out, openai.ContentPart{Type: "image_url", ImageURL: &openai.ImageURL{URL: *p.ImageURL, Detail: detail}})
		case "input_file":
			if p.FileData == nil {
				return nil, badRequest(pp, "unsupported_parameter", "Files must be sent inline (file_data, a base64 data URL) on this route; file_id and file_url need OpenAI's storage.")
			}
			file := map[string]string{"file_data": *p.FileData}
			if p.Filename != "" {
				file["filename"] = p.Filename
			}
			raw, _ := openai.Marshal(file)
			out = append(out, openai.ContentPart{Type: "file", Extra: map[string]json.RawMessage{"file": raw}})
		}
	}
	return out, nil
}

// outputParts reads a function_call_output's output: a string, or an array
// of input_text, input_image and input_file parts (their text joined; the
// media parts returned).
func outputParts(raw json.RawMessage, param string) (string, []ContentPart, error) {
	if len(raw) == 0 || isNull(raw) {
		return "", nil, &ParamError{Param: param, Code: "missing_required_parameter", Message: "a function_call_output needs an output"}
	}
	var c Content
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", nil, wrapParam(param, err)
	}
	if c.Parts == nil {
		return c.Text, nil, nil
	}
	for i := range c.Parts {
		p := &c.Parts[i]
		if p.Type != "input_text" && p.Type != "input_image" && p.Type != "input_file" {
			return "", nil, invalid(fmt.Sprintf("%s[%d].type", param, i), "output parts must be input_text, input_image or input_file; got %q", p.Type)
		}
		if err := validatePart(p, "tool", fmt.Sprintf("%s[%d]", param, i)); err != nil {
			return "", nil, err
		}
	}
	text, media := splitParts(c.Parts)
	return text, media, nil
}
