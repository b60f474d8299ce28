package responses

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// Request is a Responses API request body (POST /v1/responses). Members it
// does not model are kept in Extra and written back by MarshalJSON. Nil
// pointers are members that were absent or null.
type Request struct {
	Model              string            `json:"model"`
	Instructions       *string           `json:"instructions,omitempty"`
	Input              Input             `json:"input,omitzero"`
	Stream             *bool             `json:"stream,omitempty"`
	Tools              Tools             `json:"tools,omitempty"`
	ToolChoice         json.RawMessage   `json:"tool_choice,omitempty"`
	ParallelToolCalls  *bool             `json:"parallel_tool_calls,omitempty"`
	MaxOutputTokens    *int64            `json:"max_output_tokens,omitempty"`
	Temperature        *float64          `json:"temperature,omitempty"`
	TopP               *float64          `json:"top_p,omitempty"`
	Reasoning          *Reasoning        `json:"reasoning,omitempty"`
	Text               *TextConfig       `json:"text,omitempty"`
	PreviousResponseID *string           `json:"previous_response_id,omitempty"`
	Store              *bool             `json:"store,omitempty"`
	Include            []string          `json:"include,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	// Extra holds every other member (prompt_cache_key, user,
	// service_tier, truncation, …), verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type requestAlias Request

var requestFields = openai.JSONFields[requestAlias]()

// members are the top-level members of a Responses request the API
// documents: those Request models and those it keeps in Extra.
var members = openai.NewFieldSet("model", "instructions", "input", "stream", "tools", "tool_choice",
	"parallel_tool_calls", "max_output_tokens", "temperature", "top_p", "reasoning", "text",
	"previous_response_id", "store", "include", "metadata", "background", "conversation", "prompt",
	"prompt_cache_key", "prompt_cache_retention", "safety_identifier", "service_tier", "truncation",
	"user", "top_logprobs", "max_tool_calls", "stream_options")

// Members returns the set of a Responses request's top-level members: a
// member that differs from one of them only in case is refused
// (openai.CheckMembers).
func Members() *openai.FieldSet { return members }

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (r *Request) UnmarshalJSON(data []byte) error {
	extra, err := decodeNamed(data, (*requestAlias)(r), requestFields)
	r.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (r Request) MarshalJSON() ([]byte, error) {
	return openai.EncodeWithExtra(requestAlias(r), r.Extra, requestFields)
}

// Input is the input member: a string (one user message) or a list of
// items. The zero value is absent.
type Input struct {
	// Text is the input when it is a string.
	Text string
	// Items is the input when it is an array; non-nil selects that form.
	Items []Item
	set   bool
}

// IsZero reports whether the input was absent (or null).
func (in Input) IsZero() bool { return !in.set && in.Items == nil && in.Text == "" }

// MarshalJSON implements json.Marshaler.
func (in Input) MarshalJSON() ([]byte, error) {
	if in.Items != nil {
		return openai.Marshal(in.Items)
	}
	return openai.Marshal(in.Text)
}

// UnmarshalJSON implements json.Unmarshaler. An error in an item names it
// by index (a *ParamError with Param "[i].member").
func (in *Input) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		*in = Input{}
		return nil
	case len(data) > 0 && data[0] == '"':
		*in = Input{set: true}
		return json.Unmarshal(data, &in.Text)
	case len(data) > 0 && data[0] == '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(data, &raws); err != nil {
			return err
		}
		*in = Input{set: true, Items: make([]Item, len(raws))}
		for i, raw := range raws {
			if err := json.Unmarshal(raw, &in.Items[i]); err != nil {
				return wrapParam(fmt.Sprintf("[%d]", i), err)
			}
		}
		return nil
	}
	return &ParamError{Message: "input must be a string or an array of input items"}
}

// Item is one input item. Type selects the kind: "message" (also when
// Type is empty and Role is set), "function_call", "function_call_output",
// "reasoning", or another kind the translation refuses or drops.
type Item struct {
	Type   string `json:"type,omitempty"`
	ID     string `json:"id,omitempty"`
	Status string `json:"status,omitempty"`
	// Role and Content are a message's; a reasoning item's Content holds
	// reasoning_text parts.
	Role    string  `json:"role,omitempty"`
	Content Content `json:"content,omitzero"`
	// CallID, Name and Arguments are a function_call's; CallID and Output
	// a function_call_output's (Output is a string or an array of parts).
	CallID    string          `json:"call_id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Arguments *string         `json:"arguments,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
	// Summary and EncryptedContent are a reasoning item's.
	Summary          []ContentPart `json:"summary,omitempty"`
	EncryptedContent *string       `json:"encrypted_content,omitempty"`
	// Extra holds every other member, verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type itemAlias Item

var itemFields = openai.JSONFields[itemAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (it *Item) UnmarshalJSON(data []byte) error {
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		return &ParamError{Message: "each input item must be an object"}
	}
	extra, err := decodeNamed(data, (*itemAlias)(it), itemFields)
	it.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (it Item) MarshalJSON() ([]byte, error) {
	return openai.EncodeWithExtra(itemAlias(it), it.Extra, itemFields)
}

// Kind returns the item's type, "message" for a typeless item with a role.
func (it *Item) Kind() string {
	if it.Type == "" && it.Role != "" {
		return "message"
	}
	return it.Type
}

// Content is a message's content: a string or an array of parts. The zero
// value is absent.
type Content struct {
	Text  string
	Parts []ContentPart // non-nil selects the array form
	set   bool
}

// IsZero reports whether the content was absent (or null).
func (c Content) IsZero() bool { return !c.set && c.Parts == nil && c.Text == "" }

// MarshalJSON implements json.Marshaler.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.Parts != nil {
		return openai.Marshal(c.Parts)
	}
	return openai.Marshal(c.Text)
}

// UnmarshalJSON implements json.Unmarshaler; errors name the part by index.
func (c *Content) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		*c = Content{}
		return nil
	case len(data) > 0 && data[0] == '"':
		*c = Content{set: true}
		return json.Unmarshal(data, &c.Text)
	case len(data) > 0 && data[0] == '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(data, &raws); err != nil {
			return err
		}
		*c = Content{set: true, Parts: make([]ContentPart, len(raws))}
		for i, raw := range raws {
			if err := json.Unmarshal(raw, &c.Parts[i]); err != nil {
				return wrapParam(fmt.Sprintf("[%d]", i), err)
			}
		}
		return nil
	}
	return &ParamError{Message: "content must be a string or an array of content parts"}
}

// ContentPart is one part of a message's content (input_text, input_image,
// input_file, output_text, refusal), of a reasoning item's summary
// (summary_text) or content (reasoning_text), or of a function call's
// output.
type ContentPart struct {
	Type     string  `json:"type"`
	Text     string  `json:"text,omitempty"`
	Refusal  string  `json:"refusal,omitempty"`
	ImageURL *string `json:"image_url,omitempty"`
	Detail   string  `json:"detail,omitempty"`
	FileID   *string `json:"file_id,omitempty"`
	FileData *string `json:"file_data,omitempty"`
	FileURL  *string `json:"file_url,omitempty"`
	Filename string  `json:"filename,omitempty"`
	// Extra holds every other member (annotations, logprobs, …), verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type contentPartAlias ContentPart

var contentPartFields = openai.JSONFields[contentPartAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (p *ContentPart) UnmarshalJSON(data []byte) error {
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		return &ParamError{Message: "each content part must be an object"}
	}
	extra, err := decodeNamed(data, (*contentPartAlias)(p), contentPartFields)
	p.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (p ContentPart) MarshalJSON() ([]byte, error) {
	return openai.EncodeWithExtra(contentPartAlias(p), p.Extra, contentPartFields)
}

// Tool is one entry of tools. Function tools have Name, Description,
// Parameters and Strict; hosted tools (web_search, file_search, mcp, …)
// keep their configuration in Extra.
type Tool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description *string         `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
	// Extra holds every other member, verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type toolAlias Tool

var toolFields = openai.JSONFields[toolAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (t *Tool) UnmarshalJSON(data []byte) error {
	if b := bytes.TrimSpace(data); len(b) == 0 || b[0] != '{' {
		return &ParamError{Message: "each tool must be an object"}
	}
	extra, err := decodeNamed(data, (*toolAlias)(t), toolFields)
	t.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (t Tool) MarshalJSON() ([]byte, error) {
	return openai.EncodeWithExtra(toolAlias(t), t.Extra, toolFields)
}

// Tools is the tools member; decoding errors name the tool by index.
type Tools []Tool

// UnmarshalJSON implements json.Unmarshaler.
func (ts *Tools) UnmarshalJSON(data []byte) error {
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return err
	}
	if raws == nil {
		*ts = nil
		return nil
	}
	*ts = make(Tools, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &(*ts)[i]); err != nil {
			return wrapParam(fmt.Sprintf("[%d]", i), err)
		}
	}
	return nil
}

// Reasoning is the reasoning member: effort and the summary wanted.
type Reasoning struct {
	Effort  *string `json:"effort,omitempty"`
	Summary *string `json:"summary,omitempty"`
	// Extra holds every other member (generate_summary, …), verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type reasoningAlias Reasoning

var reasoningFields = openai.JSONFields[reasoningAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (r *Reasoning) UnmarshalJSON(data []byte) error {
	extra, err := decodeNamed(data, (*reasoningAlias)(r), reasoningFields)
	r.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (r Reasoning) MarshalJSON() ([]byte, error) {
	return openai.EncodeWithExtra(reasoningAlias(r), r.Extra, reasoningFields)
}

// TextConfig is the text member: the output format and verbosity.
type TextConfig struct {
	Format *TextFormat `json:"format,omitempty"`
	// Extra holds every other member (verbosity, …), verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type textConfigAlias TextConfig

var textConfigFields = openai.JSONFields[textConfigAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (t *TextConfig) UnmarshalJSON(data []byte) error {
	extra, err := decodeNamed(data, (*textConfigAlias)(t), textConfigFields)
	t.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (t TextConfig) MarshalJSON() ([]byte, error) {
	return openai.EncodeWithExtra(textConfigAlias(t), t.Extra, textConfigFields)
}

// TextFormat is text.format: {"type":"text"}, {"type":"json_object"} or
// {"type":"json_schema","name","schema","strict","description"}.
type TextFormat struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ParamError is a decoding or validation error naming the offending
// member. Decode turns it into a 400 *openai.APIError.
type ParamError struct {
	Param   string // e.g. "input[2].content[0].image_url"; relative while decoding
	Message string
	Code    string // "invalid_type", "invalid_value", …; empty is invalid_value
}

// Error implements error.
func (e *ParamError) Error() string {
	if e.Param == "" {
		return e.Message
	}
	return e.Param + ": " + e.Message
}

// wrapParam prefixes err's member path with prefix ("[3]" or "input").
func wrapParam(prefix string, err error) error {
	var pe *ParamError
	if errors.As(err, &pe) {
		return &ParamError{Param: joinParam(prefix, pe.Param), Message: pe.Message, Code: pe.Code}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &ParamError{Param: joinParam(prefix, te.Field), Code: "invalid_type",
			Message: fmt.Sprintf("expected %s, got %s", jsonKind(te.Type.String()), te.Value)}
	}
	return &ParamError{Param: prefix, Message: err.Error()}
}

func joinParam(prefix, rest string) string {
	switch {
	case rest == "":
		return prefix
	case prefix == "":
		return rest
	case rest[0] == '[':
		return prefix + rest
	}
	return prefix + "." + rest
}

// jsonKind names a Go type the way a JSON user would.
func jsonKind(goType string) string {
	switch {
	case goType == "string" || goType == "*string":
		return "a string"
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "a boolean"
	case strings.HasPrefix(goType, "[]") || strings.HasPrefix(goType, "*[]"):
		return "an array"
	case strings.HasPrefix(goType, "map"):
		return "an object"
	}
	return "an object"
}

// Decode decodes and validates a Responses request body. Every error is a
// 400 invalid_request_error naming the member in Param.
func Decode(body []byte) (*Request, *openai.APIError) {
	// One reading of the body: its validity, and the request read by hand
	// (WithValue fails also for a body of more values than a tape holds:
	// ValidJSON then decides).
	var req Request
	read := false
	if !openai.WithValue(body, func(root openai.Value) { read = fastRequest(root, &req) }) && !openai.ValidJSON(body) {
		return nil, badRequest("", "invalid_json", "We could not parse the JSON body of your request: it is not valid JSON.")
	}
	if b := bytes.TrimSpace(body); len(b) == 0 || b[0] != '{' {
		return nil, badRequest("", "invalid_request", "The request body must be a JSON object.")
	}
	if !read {
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, toAPIError(err)
		}
	}
	if err := req.validate(); err != nil {
		return nil, toAPIError(err)
	}
	return &req, nil
}

// stripField removes the top-level member name that encoding/json put in
// front of a type error's Field, so wrapParam does not repeat it.
func stripField(err error, name string) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		cp := *te
		cp.Field = strings.TrimPrefix(strings.TrimPrefix(te.Field, name), ".")
		return &cp
	}
	return err
}

func badRequest(param, code, format string, args ...any) *openai.APIError {
	return &openai.APIError{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Param: param, Code: code, Message: fmt.Sprintf(format, args...)}
}

func toAPIError(err error) *openai.APIError {
	var pe *ParamError
	if errors.As(err, &pe) {
		code := pe.Code
		if code == "" {
			code = "invalid_value"
		}
		msg := pe.Message
		if pe.Param != "" {
			msg = fmt.Sprintf("Invalid '%s': %s.", pe.Param, strings.TrimSuffix(pe.Message, "."))
		}
		return badRequest(pe.Param, code, "%s", msg)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return badRequest("", "invalid_json", "We could not parse the JSON body of your request: %v", err)
	}
	return badRequest("", "invalid_request", "%v", err)
}
