package gemini

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// signatureSep joins a tool-call id and its Gemini thought signature
// (LiteLLM's convention, so histories move between the two).
const signatureSep = "__thought__"

// Wire types of the request (camelCase, as Gemini's responses are).
type (
	request struct {
		Contents          []content         `json:"contents"`
		SystemInstruction *content          `json:"systemInstruction,omitempty"`
		Tools             []tool            `json:"tools,omitempty"`
		ToolConfig        *toolConfig       `json:"toolConfig,omitempty"`
		GenerationConfig  *generationConfig `json:"generationConfig,omitempty"`
	}
	content struct {
		Role  string `json:"role,omitempty"`
		Parts []part `json:"parts"`
	}
	part struct {
		Text             string            `json:"text,omitempty"`
		Thought          bool              `json:"thought,omitempty"`
		InlineData       *inlineData       `json:"inlineData,omitempty"`
		FunctionCall     *functionCall     `json:"functionCall,omitempty"`
		FunctionResponse *functionResponse `json:"functionResponse,omitempty"`
		ThoughtSignature string            `json:"thoughtSignature,omitempty"`
	}
	inlineData struct {
		MimeType string `json:"mimeType"`
		Data     string `json:"data"`
	}
	functionCall struct {
		ID   string          `json:"id,omitempty"`
		Name string          `json:"name"`
		Args json.RawMessage `json:"args,omitempty"`
	}
	functionResponse struct {
		ID       string          `json:"id,omitempty"`
		Name     string          `json:"name"`
		Response json.RawMessage `json:"response"`
	}
	tool struct {
		FunctionDeclarations []functionDeclaration `json:"functionDeclarations"`
	}
	functionDeclaration struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
	}
	toolConfig struct {
		FunctionCallingConfig struct {
			Mode                 string   `json:"mode"`
			AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
		} `json:"functionCallingConfig"`
	}
	generationConfig struct {
		Temperature      *float64 `json:"temperature,omitempty"`
		TopP             *float64 `json:"topP,omitempty"`
		MaxOutputTokens  *int     `json:"maxOutputTokens,omitempty"`
		StopSequences    []string `json:"stopSequences,omitempty"`
		CandidateCount   *int     `json:"candidateCount,omitempty"`
		Seed             *int64   `json:"seed,omitempty"`
		PresencePenalty  *float64 `json:"presencePenalty,omitempty"`
		FrequencyPenalty *float64 `json:"frequencyPenalty,omitempty"`
		ResponseMimeType string   `json:"responseMimeType,omitempty"`
		// ResponseJSONSchema is a JSON Schema as clients write it (Gemini
		// takes $ref, anyOf, additionalProperties, … here, unlike in the
		// OpenAPI-subset responseSchema), sent unchanged.
		ResponseJSONSchema json.RawMessage `json:"responseJsonSchema,omitempty"`
		ThinkingConfig     *thinkingConfig `json:"thinkingConfig,omitempty"`
	}
	thinkingConfig struct {
		IncludeThoughts bool `json:"includeThoughts"`
		ThinkingBudget  *int `json:"thinkingBudget,omitempty"`
	}
)

// translateRequest turns an OpenAI chat request into Gemini's JSON.
func translateRequest(req *openai.ChatRequest) ([]byte, error) {
	var out request
	if err := translateMessages(req.Messages, &out); err != nil {
		return nil, err
	}
	if err := translateTools(req, &out); err != nil {
		return nil, err
	}
	gc, err := translateConfig(req)
	if err != nil {
		return nil, err
	}
	out.GenerationConfig = gc
	return openai.Marshal(out)
}

// translateMessages fills out's contents and system instruction from the
// conversation. System and developer messages, wherever they stand, join
// into the one system instruction Gemini takes.
func translateMessages(msgs []openai.Message, out *request) error {
	var system []string
	names := map[string]string{} // tool_call_id → function name, for tool results
	for i := range msgs {
		m := &msgs[i]
		param := fmt.Sprintf("messages[%d]", i)
		var (
			role  = "user"
			parts []part
			err   error
		)
		switch m.Role {
		case "system", "developer":
			system = append(system, m.Content.String())
			continue
		case "user":
			parts, err = contentParts(m.Content, param)
		case "assistant":
			role = "model"
			parts, err = assistantParts(m, param, names)
		case "tool":
			parts, err = toolResultParts(m, param, names)
		default:
			return openai.BadRequest(param+".role", "role %q is not supported for Gemini", m.Role)
		}
		if err != nil {
			return err
		}
		out.addTurn(role, parts)
	}
	if len(system) > 0 {
		out.SystemInstruction = &content{Parts: []part{{Text: strings.Join(system, "\n")}}}
	}
	if len(out.Contents) == 0 {
		return openai.BadRequest("messages", "Gemini needs at least one user or assistant message besides system messages")
	}
	return nil
}

// addTurn appends parts as a turn of role. Gemini wants user and model
// turns to alternate, so parts for the role of the last turn join it.
func (out *request) addTurn(role string, parts []part) {
	if len(parts) == 0 {
		return
	}
	if n := len(out.Contents); n > 0 && out.Contents[n-1].Role == role {
		out.Contents[n-1].Parts = append(out.Contents[n-1].Parts, parts...)
		return
	}
	out.Contents = append(out.Contents, content{Role: role, Parts: parts})
}

// assistantParts translates an assistant message: its content, then a
// functionCall part per tool call, with the thought signature split off
// the id. It records each call's name in names for the tool results.
func assistantParts(m *openai.Message, param string, names map[string]string) ([]part, error) {
	parts, err := contentParts(m.Content, param)
	if err != nil {
		return nil, err
	}
	for j, tc := range m.ToolCalls {
		id, sig, _ := strings.Cut(tc.ID, signatureSep)
		args := json.RawMessage(tc.Function.Arguments)
		if strings.TrimSpace(tc.Function.Arguments) == "" {
			args = json.RawMessage("{}")
		} else if !json.Valid(args) {
			return nil, openai.BadRequest(fmt.Sprintf("%s.tool_calls[%d].function.arguments", param, j), "tool call arguments must be JSON for Gemini")
		}
		names[tc.ID] = tc.Function.Name
		parts = append(parts, part{FunctionCall: &functionCall{ID: geminiID(id), Name: tc.Function.Name, Args: args}, ThoughtSignature: sig})
	}
	return parts, nil
}

// toolResultParts translates a tool message into a functionResponse part.
// Gemini matches results by function name, which OpenAI's tool message
// lacks: it comes from the earlier assistant message's call (names).
func toolResultParts(m *openai.Message, param string, names map[string]string) ([]part, error) {
	name := names[m.ToolCallID]
	if name == "" {
		return nil, openai.BadRequest(param+".tool_call_id", "tool message refers to tool call %q, which no earlier assistant message made", m.ToolCallID)
	}
	id, _, _ := strings.Cut(m.ToolCallID, signatureSep)
	return []part{{FunctionResponse: &functionResponse{ID: geminiID(id), Name: name, Response: toolResult(m.Content.String())}}}, nil
}

// geminiID keeps ids the bridge minted for Gemini calls out of Gemini's
// own id field (they mean nothing to it); client-made ids pass.
func geminiID(id string) string {
	if strings.HasPrefix(id, "call_g") {
		return ""
	}
	return id
}

// toolResult wraps a tool message's content as the object Gemini needs.
func toolResult(s string) json.RawMessage {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "{") && json.Valid([]byte(t)) {
		return json.RawMessage(t)
	}
	b, _ := openai.Marshal(map[string]string{"content": s})
	return b
}

// contentParts translates message content. Images must be data URLs:
// http(s) URLs are not fetched.
func contentParts(c openai.Content, param string) ([]part, error) {
	if c.Parts == nil {
		if c.Text == "" {
			return nil, nil
		}
		return []part{{Text: c.Text}}, nil
	}
	var out []part
	for i, p := range c.Parts {
		switch p.Type {
		case "text":
			if p.Text != "" {
				out = append(out, part{Text: p.Text})
			}
		case "image_url":
			if p.ImageURL == nil {
				continue
			}
			mime, data, ok := parseDataURL(p.ImageURL.URL)
			if !ok {
				return nil, openai.BadRequest(fmt.Sprintf("%s.content[%d].image_url.url", param, i),
					"Gemini needs images inline: send a data: URL (base64); the bridge does not fetch http(s) image URLs")
			}
			out = append(out, part{InlineData: &inlineData{MimeType: mime, Data: data}})
		case "input_audio":
			var a struct{ Data, Format string }
			if raw := p.Extra["input_audio"]; raw != nil && json.Unmarshal(raw, &a) == nil && a.Data != "" {
				out = append(out, part{InlineData: &inlineData{MimeType: "audio/" + a.Format, Data: a.Data}})
			}
		default:
			return nil, openai.BadRequest(fmt.Sprintf("%s.content[%d].type", param, i), "content part type %q is not supported for Gemini", p.Type)
		}
	}
	return out, nil
}

func parseDataURL(u string) (mime, data string, ok bool) {
	rest, found := strings.CutPrefix(u, "data:")
	if !found {
		return "", "", false
	}
	meta, payload, found := strings.Cut(rest, ",")
	mime, isBase64 := strings.CutSuffix(meta, ";base64")
	if !found || !isBase64 || mime == "" {
		return "", "", false
	}
	return mime, payload, true
}

func translateTools(req *openai.ChatRequest, out *request) error {
	var decls []functionDeclaration
	for i, t := range req.Tools {
		if t.Type != "function" || t.Function == nil {
			return openai.BadRequest(fmt.Sprintf("tools[%d].type", i), "only function tools are supported for Gemini")
		}
		decls = append(decls, functionDeclaration{Name: t.Function.Name, Description: t.Function.Description, Parameters: sanitizeSchema(t.Function.Parameters)})
	}
	if len(decls) == 0 {
		return nil // Gemini rejects a toolConfig without declarations
	}
	out.Tools = []tool{{FunctionDeclarations: decls}}
	mode, name, err := req.ToolChoiceMode()
	if err != nil || mode == "" {
		return err
	}
	tc := &toolConfig{}
	tc.FunctionCallingConfig.Mode = map[string]string{"auto": "AUTO", "none": "NONE", "required": "ANY", "function": "ANY"}[mode]
	if name != "" {
		tc.FunctionCallingConfig.AllowedFunctionNames = []string{name}
	}
	out.ToolConfig = tc
	return nil
}

// thinking budgets for reasoning_effort.
var thinkingBudgets = map[string]int{"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}

// responseFormat translates response_format (from a Responses client,
// text.format; from a Messages client, output_config.format): JSON mode
// is responseMimeType application/json, a schema goes unchanged in
// responseJsonSchema; a type Gemini cannot honour is a 400.
func (gc *generationConfig) responseFormat(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var rf struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if json.Unmarshal(raw, &rf) != nil {
		return openai.BadRequest("response_format", "response_format must be an object")
	}
	switch rf.Type {
	case "text":
	case "json_object":
		gc.ResponseMimeType = "application/json"
	case "json_schema":
		gc.ResponseMimeType = "application/json"
		if rf.JSONSchema != nil && len(rf.JSONSchema.Schema) > 0 && string(rf.JSONSchema.Schema) != "null" {
			if !json.Valid(rf.JSONSchema.Schema) || rf.JSONSchema.Schema[0] != '{' {
				return openai.BadRequest("response_format.json_schema.schema", "response_format.json_schema.schema must be a JSON Schema object")
			}
			gc.ResponseJSONSchema = rf.JSONSchema.Schema
		}
	default:
		return openai.BadRequest("response_format.type", "response_format type %q is not supported for Gemini", rf.Type)
	}
	return nil
}

func translateConfig(req *openai.ChatRequest) (*generationConfig, error) {
	gc := &generationConfig{Temperature: req.Temperature, TopP: req.TopP, CandidateCount: req.N, Seed: req.Seed,
		PresencePenalty: req.PresencePenalty, FrequencyPenalty: req.FrequencyPenalty, MaxOutputTokens: req.MaxCompletionTokens}
	if gc.MaxOutputTokens == nil {
		gc.MaxOutputTokens = req.MaxTokens
	}
	stop, err := req.StopSequences()
	if err != nil {
		return nil, err
	}
	gc.StopSequences = stop
	if err := gc.responseFormat(req.ResponseFormat); err != nil {
		return nil, err
	}
	if e := req.ReasoningEffort; e != "" {
		budget, ok := thinkingBudgets[e]
		if !ok {
			return nil, openai.BadRequest("reasoning_effort", "reasoning_effort %q is not one of none, minimal, low, medium, high", e)
		}
		gc.ThinkingConfig = &thinkingConfig{IncludeThoughts: budget > 0, ThinkingBudget: &budget}
	}
	if b, _ := openai.Marshal(gc); string(b) == "{}" {
		return nil, nil // nothing to configure
	}
	return gc, nil
}
