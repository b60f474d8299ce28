package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// This file is the inbound direction: a Messages API request, as Claude
// Code and the Anthropic SDKs send it to the bridge, turned into the
// canonical Chat Completions request for upstreams that do not speak the
// Messages API.

// Envelope is what the bridge reads of a Messages request without decoding
// it: enough to admit, route and choose streaming.
type Envelope struct {
	Model  string
	Stream bool
	// TextBytes is openai.TextBytes of the body, counted as it was read
	// (0 when it could not be: not JSON, or more values than a tape
	// holds): a prompt-token estimate without reading the body again.
	TextBytes int
}

// requestMembers are the top-level members of a Messages request, as the
// API documents them: a member that differs from one of them only in case
// is refused.
var requestMembers = openai.NewFieldSet("model", "messages", "max_tokens", "system", "stream", "tools",
	"tool_choice", "stop_sequences", "temperature", "top_p", "top_k", "thinking", "metadata",
	"output_config", "output_format", "service_tier", "container", "mcp_servers", "context_management")

// CheckEnvelope validates a Messages request body's structure the way the
// Messages API does before anything goes upstream: valid JSON, an object,
// model a non-empty string, messages a non-empty array of objects each with
// role "user" or "assistant" and content a string or an array of blocks
// with a string type, max_tokens a positive integer (required unless
// countTokens: count_tokens takes none), stream a boolean, system a string
// or an array, tools an array; no member named twice in any object (under
// case folding, as a Go decoder matches names) and none at the top level
// that differs from a documented member only in case; valid UTF-8 (from
// invalid UTF-8 the decoder would read another model name than the
// router does). Unknown members and block types pass (pass-through keeps
// them). Whatever it could read is returned also when the body is
// refused with a 400 *openai.APIError. The body is read once, onto a
// tape (openai.ReadChecked): a body of more JSON values than a tape takes
// is refused with a 413, as a chat request is, and nothing is read of it.
func CheckEnvelope(body []byte, countTokens bool) (Envelope, *openai.APIError) {
	var env Envelope
	var bad *openai.APIError
	// One reading of the body: its validity and, before anything reads a
	// member by name, that no member differs from a known one only in
	// case and no object has a name twice (openai.CheckMembers's checks);
	// the checks below walk the same tape.
	valid, tooMany := openai.ReadChecked(body, requestMembers, func(root openai.Value, fault *openai.MemberFault, utf8OK bool) {
		env.TextBytes = root.DocTextBytes()
		if !root.IsObject() {
			bad = invalid("", "The request body must be a JSON object.")
			return
		}
		top := readTopMembers(root)
		if fault == nil && top.model.Type() == gjson.String {
			env.Model = top.model.Str() // body's memory, as gjson's was (the handler copies it)
		}
		env.Stream = !countTokens && top.stream.Type() == gjson.True
		switch {
		case !utf8OK:
			bad = invalid("", "There was an error parsing the body of your request: it is not valid UTF-8.")
		case fault != nil:
			bad = memberInvalid("", fault)
		default:
			if bad = top.check(countTokens); bad == nil {
				bad = checkMessages(top.messages)
			}
		}
	})
	switch {
	case tooMany != nil:
		return env, tooMany
	case !valid:
		return env, invalid("", "There was an error parsing the body of your request: it is not valid JSON.")
	}
	return env, bad
}

// topMembers are the members of a Messages request that CheckEnvelope
// checks; a member not given does not exist.
type topMembers struct {
	model, messages, maxTokens, stream, system, tools openai.Value
}

// readTopMembers reads the top-level members CheckEnvelope checks, the
// last of each where one is given twice.
func readTopMembers(root openai.Value) topMembers {
	var top topMembers
	root.ForEach(func(k, v openai.Value) bool {
		switch k.Str() {
		case "model":
			top.model = v
		case "messages":
			top.messages = v
		case "max_tokens":
			top.maxTokens = v
		case "stream":
			top.stream = v
		case "system":
			top.system = v
		case "tools":
			top.tools = v
		}
		return true
	})
	return top
}

// check validates the top-level members' presence and types; max_tokens
// is not required when countTokens (count_tokens takes none).
func (top *topMembers) check(countTokens bool) *openai.APIError {
	switch {
	case !top.model.Exists():
		return invalid("model", "model: Field required")
	case top.model.Type() != gjson.String:
		return invalid("model", "model: Input should be a valid string")
	case top.model.Str() == "":
		return invalid("model", "model: String should have at least 1 character")
	case !top.messages.Exists():
		return invalid("messages", "messages: Field required")
	case !top.messages.IsArray():
		return invalid("messages", "messages: Input should be a valid list")
	case !countTokens && !top.maxTokens.Exists():
		return invalid("max_tokens", "max_tokens: Field required")
	case top.maxTokens.Exists() && !countTokens && !positiveInt(top.maxTokens):
		return invalid("max_tokens", "max_tokens: Input should be a valid integer greater than or equal to 1")
	case top.stream.Exists() && top.stream.Type() != gjson.True && top.stream.Type() != gjson.False:
		return invalid("stream", "stream: Input should be a valid boolean")
	case top.system.Exists() && top.system.Type() != gjson.String && !top.system.IsArray():
		return invalid("system", "system: Input should be a valid string or a list of text blocks")
	case top.tools.Exists() && !top.tools.IsArray():
		return invalid("tools", "tools: Input should be a valid list")
	}
	return nil
}

// checkMessages validates the entries of messages, an array: at least
// one, each a valid message.
func checkMessages(messages openai.Value) *openai.APIError {
	n := 0
	var bad *openai.APIError
	openai.EachElem(messages, func(m openai.Value) bool {
		bad = checkMessage(m, n)
		n++
		return bad == nil
	})
	if bad != nil {
		return bad
	}
	if n == 0 {
		return invalid("messages", "messages: at least one message is required")
	}
	return nil
}

// positiveInt reports whether v is an integer of at least 1 (one past
// int64 is, as gjson, which this replaced, read it).
func positiveInt(v openai.Value) bool {
	if v.Type() != gjson.Number || strings.ContainsAny(v.Raw(), ".eE") {
		return false
	}
	// A JSON integer can fail only with ErrRange, which comes with
	// MaxInt64 or MinInt64.
	n, _ := strconv.ParseInt(v.Raw(), 10, 64)
	return n >= 1
}

// checkMessage validates one entry of messages. Its paths are made only
// for a refusal: an agent's request has hundreds of messages.
func checkMessage(m openai.Value, i int) *openai.APIError {
	p := func() string { return "messages." + strconv.Itoa(i) }
	if !m.IsObject() {
		return invalid(p(), "%s: Input should be a valid dictionary", p())
	}
	role, content := m.Get("role"), m.Get("content")
	switch {
	case !role.Exists():
		return invalid(p()+".role", "%s.role: Field required", p())
	case role.Type() != gjson.String || role.Str() != "user" && role.Str() != "assistant" && role.Str() != "system":
		// Claude Code sends system messages inside the list; the API takes them.
		return invalid(p()+".role", "%s.role: Input should be 'user', 'assistant' or 'system'", p())
	case !content.Exists():
		return invalid(p()+".content", "%s.content: Field required", p())
	case content.Type() == gjson.String:
		return nil
	case !content.IsArray():
		return invalid(p()+".content", "%s.content: Input should be a valid string or a list of content blocks", p())
	}
	j := 0
	var bad *openai.APIError
	openai.EachElem(content, func(b openai.Value) bool {
		bp := func() string { return p() + ".content." + strconv.Itoa(j) }
		if !b.IsObject() {
			bad = invalid(bp(), "%s: Input should be a valid dictionary", bp())
		} else if t := b.Get("type"); t.Type() != gjson.String || t.Str() == "" {
			bad = invalid(bp()+".type", "%s.type: Field required", bp())
		}
		j++
		return bad == nil
	})
	return bad
}

// memberInvalid is the 400 for a member name openai.CheckMembers or the
// decoders refuse, its path (relative to prefix) in the API's notation.
func memberInvalid(prefix string, f *openai.MemberFault) *openai.APIError {
	p := f.DottedParam()
	if prefix != "" {
		p = prefix + "." + p
	}
	return invalid(p, "%s: %s", p, f.Message())
}

func invalid(param, format string, args ...any) *openai.APIError {
	return &openai.APIError{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Code: "invalid_request_error", Param: param, Message: fmt.Sprintf(format, args...)}
}

type (
	inRequest struct {
		Model         string          `json:"model"`
		MaxTokens     *int            `json:"max_tokens"`
		Messages      []inMessage     `json:"messages"`
		System        json.RawMessage `json:"system"`
		Tools         []inTool        `json:"tools"`
		ToolChoice    *inToolChoice   `json:"tool_choice"`
		StopSequences []string        `json:"stop_sequences"`
		Stream        bool            `json:"stream"`
		Temperature   *float64        `json:"temperature"`
		TopP          *float64        `json:"top_p"`
		Thinking      *struct {
			Type         string `json:"type"`
			BudgetTokens int    `json:"budget_tokens"`
		} `json:"thinking"`
		OutputConfig *struct {
			Effort string          `json:"effort"`
			Format *inOutputFormat `json:"format"`
		} `json:"output_config"`
		OutputFormat *inOutputFormat `json:"output_format"` // the structured-outputs beta's name
		Metadata     *struct {
			UserID string `json:"user_id"`
		} `json:"metadata"`
	}
	inMessage struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	inBlock struct {
		Type      string          `json:"type"`
		Text      string          `json:"text"`
		Source    *inSource       `json:"source"`
		Title     string          `json:"title"`
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
		ToolUseID string          `json:"tool_use_id"`
		Content   json.RawMessage `json:"content"`
		IsError   bool            `json:"is_error"`
		Thinking  string          `json:"thinking"`
	}
	inSource struct {
		Type      string          `json:"type"` // base64, url, text, content
		MediaType string          `json:"media_type"`
		Data      string          `json:"data"`
		URL       string          `json:"url"`
		Content   json.RawMessage `json:"content"`
	}
	inTool struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"input_schema"`
	}
	inOutputFormat struct {
		Type   string          `json:"type"`
		Schema json.RawMessage `json:"schema"`
	}
	inToolChoice struct {
		Type                   string `json:"type"`
		Name                   string `json:"name"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
	}
)

// The decoders' field sets: the translation decodes case-sensitively, so a
// member that differs from one of these only in case ("Content" in a
// message) is refused rather than bound to the field unseen by
// CheckEnvelope (openai.DecodeExact). Raw members (message content, a
// tool_result's content, a document's source content) are decoded as
// block lists by blocksOf, with blockListFields.
var (
	inRequestFields = openai.JSONFields[inRequest]()
	blockListFields = openai.JSONFields[[]inBlock]()
)

// Decoded is a Messages request in canonical form.
type Decoded struct {
	// Request is the Chat Completions request. Its Model is the client's;
	// StreamOptions asks for stream usage (the Messages stream always
	// reports it).
	Request *openai.ChatRequest
	// DroppedTools names the tools that were left out because they run on
	// Anthropic's side (web_search, code_execution, …) or have a type the
	// bridge does not know.
	DroppedTools []string
}

// DecodeMessages translates a Messages request body into the canonical
// Chat request for upstreams that do not speak the Messages API.
//
// system (a string or text blocks) becomes one system message; text,
// image (base64 and url) and document blocks become content parts
// (base64 PDFs as OpenAI file parts, plain-text documents as text);
// tool_use blocks become tool calls and tool_result blocks tool messages
// (placed before the rest of their user turn, as OpenAI requires; is_error
// results are prefixed "Error: "; images in results follow as a user
// message); thinking blocks become reasoning_content. Tool ids are kept
// exactly, so ids minted by any upstream (Gemini's carry thought
// signatures) round-trip. tools, tool_choice (auto, any, tool, none,
// disable_parallel_tool_use), stop_sequences, max_tokens, temperature,
// top_p, thinking (a reasoning_effort by budget, or output_config.effort
// for adaptive thinking), structured outputs (output_config.format, as
// response_format json_schema) and metadata.user_id (as user) are
// mapped; what
// has no Chat equivalent (top_k, cache_control, context_management,
// server tools, redacted thinking, …) is dropped. It fails only with a 400
// *openai.APIError naming the offending member.
func DecodeMessages(body []byte) (*Decoded, error) {
	var in inRequest
	if err := openai.DecodeExactFast(body, &in, inRequestFields, false, func(r openai.Value) bool { return fastRequest(r, &in) }); err != nil {
		var f *openai.MemberFault
		if errors.As(err, &f) {
			return nil, memberInvalid("", f)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, invalid(te.Field, "%s: Input should be a valid %s", te.Field, te.Type)
		}
		return nil, invalid("", "There was an error parsing the body of your request: %v", err)
	}
	out := &openai.ChatRequest{Model: in.Model, Temperature: in.Temperature, TopP: in.TopP, MaxTokens: in.MaxTokens,
		StreamOptions: &openai.StreamOptions{IncludeUsage: true}}
	d := &Decoded{Request: out}
	if sys, err := systemText(in.System); err != nil {
		return nil, err
	} else if sys != "" {
		out.Messages = append(out.Messages, openai.Message{Role: "system", Content: openai.TextContent(sys)})
	}
	for i, m := range in.Messages {
		msgs, err := translateMessage(m, fmt.Sprintf("messages.%d", i))
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	if len(in.StopSequences) > 0 {
		out.Stop, _ = openai.Marshal(in.StopSequences)
	}
	if err := d.addTools(in.Tools); err != nil {
		return nil, err
	}
	if err := translateToolChoice(in.ToolChoice, out); err != nil {
		return nil, err
	}
	out.ReasoningEffort = effort(&in)
	rf, err := responseFormat(&in)
	if err != nil {
		return nil, err
	}
	out.ResponseFormat = rf
	if in.Metadata != nil && in.Metadata.UserID != "" {
		u, _ := openai.Marshal(in.Metadata.UserID)
		out.Extra = map[string]json.RawMessage{"user": u}
	}
	return d, nil
}

// addTools translates the client's tools to functions; server tools and
// tools of unknown types are dropped and listed in DroppedTools.
func (d *Decoded) addTools(tools []inTool) error {
	for i, t := range tools {
		switch t.Type {
		case "", "custom":
		default:
			d.DroppedTools = append(d.DroppedTools, t.Type)
			continue
		}
		if t.Name == "" {
			return invalid(fmt.Sprintf("tools.%d.name", i), "tools.%d.name: Field required", i)
		}
		schema := t.InputSchema
		if len(schema) == 0 || string(schema) == "null" {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		d.Request.Tools = append(d.Request.Tools, openai.Tool{Type: "function", Function: &openai.FunctionDefinition{Name: t.Name, Description: t.Description, Parameters: schema}})
	}
	return nil
}

// responseFormat translates structured outputs (output_config.format,
// or output_format as the beta named it) to response_format json_schema,
// strict when the schema meets OpenAI's strict rules (strictable):
// Anthropic's outputs always follow the schema, so the strictest form
// the target accepts is asked for.
func responseFormat(in *inRequest) (json.RawMessage, error) {
	f, param := in.OutputFormat, "output_format"
	if in.OutputConfig != nil && in.OutputConfig.Format != nil {
		f, param = in.OutputConfig.Format, "output_config.format"
	}
	if f == nil {
		return nil, nil
	}
	if f.Type != "json_schema" {
		return nil, invalid(param+".type", "%s.type: Input should be 'json_schema'", param)
	}
	var schema map[string]any
	if json.Unmarshal(f.Schema, &schema) != nil || schema == nil {
		return nil, invalid(param+".schema", "%s.schema: Input should be a valid dictionary", param)
	}
	type jsonSchema struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
		Strict bool            `json:"strict,omitempty"`
	}
	return openai.Marshal(struct {
		Type       string     `json:"type"`
		JSONSchema jsonSchema `json:"json_schema"`
	}{"json_schema", jsonSchema{Name: "output", Schema: f.Schema, Strict: strictable(schema)}})
}

// strictable reports whether a schema meets OpenAI's strict mode: every
// object lists all its properties as required and allows no others.
func strictable(v any) bool {
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			if !strictable(x) {
				return false
			}
		}
	case map[string]any:
		if props, ok := v["properties"].(map[string]any); ok {
			if v["additionalProperties"] != false {
				return false
			}
			req, _ := v["required"].([]any)
			if len(req) != len(props) {
				return false
			}
			for _, p := range props {
				if !strictable(p) {
					return false
				}
			}
		}
		for _, k := range []string{"items", "anyOf", "allOf"} {
			if x, ok := v[k]; ok && !strictable(x) {
				return false
			}
		}
		if defs, ok := v["$defs"].(map[string]any); ok {
			for _, d := range defs {
				if !strictable(d) {
					return false
				}
			}
		}
	}
	return true
}

// effort maps thinking to a reasoning_effort: a budget by size (Gemini's
// and OpenAI's scales), adaptive thinking by output_config.effort (medium
// when not given), disabled or absent thinking to none sent.
func effort(in *inRequest) string {
	if in.Thinking == nil {
		return ""
	}
	switch in.Thinking.Type {
	case "enabled":
		switch b := in.Thinking.BudgetTokens; {
		case b <= 2048:
			return "low"
		case b <= 12288:
			return "medium"
		default:
			return "high"
		}
	case "adaptive":
		if in.OutputConfig != nil {
			switch in.OutputConfig.Effort {
			case "low", "medium", "high":
				return in.OutputConfig.Effort
			case "max":
				return "high"
			}
		}
		return "medium"
	}
	return ""
}

func translateToolChoice(tc *inToolChoice, out *openai.ChatRequest) error {
	if tc == nil || len(out.Tools) == 0 {
		return nil
	}
	switch tc.Type {
	case "auto":
		out.ToolChoice = json.RawMessage(`"auto"`)
	case "any":
		out.ToolChoice = json.RawMessage(`"required"`)
	case "none":
		out.ToolChoice = json.RawMessage(`"none"`)
		return nil
	case "tool":
		if tc.Name == "" {
			return invalid("tool_choice.name", "tool_choice.name: Field required")
		}
		out.ToolChoice, _ = openai.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": tc.Name}})
	default:
		return invalid("tool_choice.type", "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
	}
	if tc.DisableParallelToolUse {
		if out.Extra == nil {
			out.Extra = map[string]json.RawMessage{}
		}
		out.Extra["parallel_tool_calls"] = json.RawMessage("false")
	}
	return nil
}

// systemText joins the system prompt: a string, or text blocks.
func systemText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		if s, ok := rawString(raw); ok {
			return s, nil
		}
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var blocks []inBlock
	if err := openai.DecodeExactFast(raw, &blocks, blockListFields, true, func(r openai.Value) bool { return fastBlocks(r, &blocks) }); err != nil {
		if f, ok := err.(*openai.MemberFault); ok {
			return "", memberInvalid("system", f)
		}
		return "", invalid("system", "system: Input should be a valid string or a list of text blocks")
	}
	var texts []string
	for _, b := range blocks {
		if b.Type == "text" && b.Text != "" {
			texts = append(texts, b.Text)
		}
	}
	return strings.Join(texts, "\n\n"), nil
}

// blocksOf reads content that is a string or an array of blocks.
func blocksOf(raw json.RawMessage, param string) ([]inBlock, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		s, ok := rawString(raw)
		if ok {
			return []inBlock{{Type: "text", Text: s}}, nil
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, invalid(param, "%s: Input should be a valid string", param)
		}
		return []inBlock{{Type: "text", Text: s}}, nil
	}
	var blocks []inBlock
	if err := openai.DecodeExactFast(raw, &blocks, blockListFields, true, func(r openai.Value) bool { return fastBlocks(r, &blocks) }); err != nil {
		if f, ok := err.(*openai.MemberFault); ok {
			return nil, memberInvalid(param, f)
		}
		return nil, invalid(param, "%s: Input should be a valid string or a list of content blocks", param)
	}
	return blocks, nil
}

// translateMessage turns one Messages turn into Chat messages.
func translateMessage(m inMessage, param string) ([]openai.Message, error) {
	blocks, err := blocksOf(m.Content, param+".content")
	if err != nil {
		return nil, err
	}
	if m.Role == "assistant" {
		msg, err := assistantMessage(blocks, param)
		if err != nil || msg == nil {
			return nil, err
		}
		return []openai.Message{*msg}, nil
	}
	if m.Role == "system" {
		// A system message in the history stays where it is (OpenAI-style
		// targets take it there; Gemini folds system text into its
		// instruction).
		var texts []string
		for _, b := range blocks {
			if b.Type == "text" {
				texts = append(texts, b.Text)
			}
		}
		return []openai.Message{{Role: "system", Content: openai.TextContent(strings.Join(texts, "\n"))}}, nil
	}
	if m.Role != "user" {
		return nil, invalid(param+".role", "%s.role: Input should be 'user', 'assistant' or 'system'", param)
	}
	var out []openai.Message
	var parts, after []openai.ContentPart // the turn's own content; images of tool results
	for j, b := range blocks {
		bp := fmt.Sprintf("%s.content.%d", param, j)
		if b.Type == "tool_result" {
			tool, images, err := toolResult(b, bp)
			if err != nil {
				return nil, err
			}
			out = append(out, tool)
			after = append(after, images...)
			continue
		}
		p, err := userPart(b, bp)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p...)
	}
	parts = append(after, parts...)
	if len(parts) > 0 {
		out = append(out, openai.Message{Role: "user", Content: partsContent(parts)})
	}
	return out, nil
}

// partsContent keeps text-only content a plain string, which every
// OpenAI-compatible vendor accepts.
func partsContent(parts []openai.ContentPart) openai.Content {
	var text strings.Builder
	for i, p := range parts {
		if p.Type != "text" {
			return openai.PartsContent(parts...)
		}
		if i > 0 {
			text.WriteString("\n\n")
		}
		text.WriteString(p.Text)
	}
	return openai.TextContent(text.String())
}

// userPart translates one user block; blocks with no Chat equivalent give
// nothing.
func userPart(b inBlock, param string) ([]openai.ContentPart, error) {
	switch b.Type {
	case "text":
		return []openai.ContentPart{{Type: "text", Text: b.Text}}, nil
	case "image":
		u, err := imageURL(b.Source, param)
		if err != nil {
			return nil, err
		}
		return []openai.ContentPart{{Type: "image_url", ImageURL: &openai.ImageURL{URL: u}}}, nil
	case "document":
		return documentParts(b, param)
	}
	return nil, nil
}

func imageURL(s *inSource, param string) (string, error) {
	switch {
	case s == nil:
		return "", invalid(param+".source", "%s.source: Field required", param)
	case s.Type == "base64" && s.Data != "" && s.MediaType != "":
		return "data:" + s.MediaType + ";base64," + s.Data, nil
	case s.Type == "url" && (strings.HasPrefix(s.URL, "https://") || strings.HasPrefix(s.URL, "http://")):
		return s.URL, nil
	}
	return "", invalid(param+".source", "%s.source: expected a base64 source with media_type and data, or an http(s) url", param)
}

// documentParts: base64 PDFs become file parts, text documents text.
func documentParts(b inBlock, param string) ([]openai.ContentPart, error) {
	s := b.Source
	if s == nil {
		return nil, invalid(param+".source", "%s.source: Field required", param)
	}
	title := b.Title
	if title == "" {
		title = "document"
	}
	switch s.Type {
	case "base64":
		file, _ := openai.Marshal(map[string]string{"filename": title + ".pdf", "file_data": "data:" + s.MediaType + ";base64," + s.Data})
		return []openai.ContentPart{{Type: "file", Extra: map[string]json.RawMessage{"file": file}}}, nil
	case "text":
		return []openai.ContentPart{{Type: "text", Text: s.Data}}, nil
	case "url":
		return []openai.ContentPart{{Type: "text", Text: fmt.Sprintf("[%s: %s]", title, s.URL)}}, nil
	case "content":
		inner, err := blocksOf(s.Content, param+".source.content")
		if err != nil {
			return nil, err
		}
		var out []openai.ContentPart
		for k, ib := range inner {
			p, err := userPart(ib, fmt.Sprintf("%s.source.content.%d", param, k))
			if err != nil {
				return nil, err
			}
			out = append(out, p...)
		}
		return out, nil
	}
	return nil, invalid(param+".source.type", "%s.source.type: Input should be 'base64', 'text', 'url' or 'content'", param)
}

// toolResult turns a tool_result block into a tool message; images in its
// content are returned to follow as user content (tool messages carry
// text only).
func toolResult(b inBlock, param string) (openai.Message, []openai.ContentPart, error) {
	if b.ToolUseID == "" {
		return openai.Message{}, nil, invalid(param+".tool_use_id", "%s.tool_use_id: Field required", param)
	}
	inner, err := blocksOf(b.Content, param+".content")
	if err != nil {
		return openai.Message{}, nil, err
	}
	var texts []string
	var images []openai.ContentPart
	for k, ib := range inner {
		p, err := userPart(ib, fmt.Sprintf("%s.content.%d", param, k))
		if err != nil {
			return openai.Message{}, nil, err
		}
		for _, part := range p {
			if part.Type == "text" {
				texts = append(texts, part.Text)
			} else {
				images = append(images, part)
			}
		}
	}
	text := strings.Join(texts, "\n")
	if b.IsError {
		text = "Error: " + text
	}
	return openai.Message{Role: "tool", ToolCallID: b.ToolUseID, Content: openai.TextContent(text)}, images, nil
}

// assistantMessage joins an assistant turn: text, tool calls, thinking.
func assistantMessage(blocks []inBlock, param string) (*openai.Message, error) {
	var text, thinking strings.Builder
	msg := &openai.Message{Role: "assistant"}
	for j, b := range blocks {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "thinking":
			thinking.WriteString(b.Thinking)
		case "tool_use":
			bp := fmt.Sprintf("%s.content.%d", param, j)
			if b.ID == "" || b.Name == "" {
				return nil, invalid(bp, "%s: tool_use blocks need an id and a name", bp)
			}
			args := "{}"
			if in := bytes.TrimSpace(b.Input); len(in) > 0 && string(in) != "null" {
				var buf bytes.Buffer
				if err := json.Compact(&buf, in); err != nil || in[0] != '{' {
					return nil, invalid(bp+".input", "%s.input: Input should be a valid dictionary", bp)
				}
				args = buf.String()
			}
			msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: b.ID, Type: "function", Function: openai.FunctionCall{Name: b.Name, Arguments: args}})
		}
	}
	msg.ReasoningContent = thinking.String()
	switch {
	case text.Len() > 0:
		msg.Content = openai.TextContent(text.String())
	case len(msg.ToolCalls) > 0:
		msg.Content = openai.NullContent()
	case msg.ReasoningContent == "":
		return nil, nil // nothing the upstream can use
	default:
		msg.Content = openai.TextContent("")
	}
	return msg, nil
}
