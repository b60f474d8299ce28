package responses

import (
	"bytes"
	"fmt"
	"strings"
)

// Limits of the API that the bridge checks itself, so a bad request is
// refused before anything goes upstream.
const (
	maxToolName      = 128
	maxSchemaName    = 64
	maxMetadataPairs = 16
	maxMetadataKey   = 64
	maxMetadataValue = 512
)

// efforts are the reasoning.effort values the API accepts.
var efforts = map[string]bool{"none": true, "minimal": true, "low": true, "medium": true, "high": true, "xhigh": true, "max": true}

func invalid(param, format string, args ...any) *ParamError {
	return &ParamError{Param: param, Message: fmt.Sprintf(format, args...)}
}

// validate checks ranges and enumerations that decoding cannot.
func (r *Request) validate() error {
	switch {
	case r.Model == "":
		if _, ok := r.Extra["model"]; ok {
			return invalid("model", "model must not be empty")
		}
		return &ParamError{Param: "model", Code: "missing_required_parameter", Message: "you must provide a model parameter"}
	case r.Temperature != nil && (*r.Temperature < 0 || *r.Temperature > 2):
		return invalid("temperature", "temperature must be between 0 and 2, got %g", *r.Temperature)
	case r.TopP != nil && (*r.TopP < 0 || *r.TopP > 1):
		return invalid("top_p", "top_p must be between 0 and 1, got %g", *r.TopP)
	case r.MaxOutputTokens != nil && *r.MaxOutputTokens < 1:
		return invalid("max_output_tokens", "max_output_tokens must be at least 1, got %d", *r.MaxOutputTokens)
	}
	if err := validateMetadata(r.Metadata); err != nil {
		return err
	}
	if r.Reasoning != nil {
		if e := r.Reasoning.Effort; e != nil && !efforts[*e] {
			return invalid("reasoning.effort", "reasoning.effort must be one of none, minimal, low, medium, high, xhigh, max; got %q", *e)
		}
		if s := r.Reasoning.Summary; s != nil && *s != "auto" && *s != "concise" && *s != "detailed" {
			return invalid("reasoning.summary", "reasoning.summary must be auto, concise or detailed; got %q", *s)
		}
	}
	if r.Text != nil && r.Text.Format != nil {
		if err := validateFormat(r.Text.Format); err != nil {
			return err
		}
	}
	for i := range r.Tools {
		if err := validateTool(&r.Tools[i], fmt.Sprintf("tools[%d]", i)); err != nil {
			return err
		}
	}
	for i := range r.Input.Items {
		if err := validateItem(&r.Input.Items[i], fmt.Sprintf("input[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

func validateMetadata(m map[string]string) error {
	if len(m) > maxMetadataPairs {
		return invalid("metadata", "metadata may have at most %d pairs, got %d", maxMetadataPairs, len(m))
	}
	for k, v := range m {
		if len(k) > maxMetadataKey {
			return invalid("metadata", "metadata keys may be at most %d characters", maxMetadataKey)
		}
		if len(v) > maxMetadataValue {
			return invalid("metadata."+k, "metadata values may be at most %d characters", maxMetadataValue)
		}
	}
	return nil
}

func validateFormat(f *TextFormat) error {
	switch f.Type {
	case "text", "json_object":
		return nil
	case "json_schema":
		if f.Name == "" {
			return &ParamError{Param: "text.format.name", Code: "missing_required_parameter", Message: "a json_schema format needs a name"}
		}
		if len(f.Name) > maxSchemaName || !isIdent(f.Name) {
			return invalid("text.format.name", "the name may have at most %d letters, digits, underscores and dashes", maxSchemaName)
		}
		if !isObject(f.Schema) {
			return &ParamError{Param: "text.format.schema", Code: "missing_required_parameter", Message: "a json_schema format needs a schema object"}
		}
		return nil
	}
	return invalid("text.format.type", "text.format.type must be text, json_object or json_schema; got %q", f.Type)
}

func validateTool(t *Tool, param string) error {
	switch t.Type {
	case "":
		return &ParamError{Param: param + ".type", Code: "missing_required_parameter", Message: "each tool needs a type"}
	case "function":
		if t.Name == "" {
			return &ParamError{Param: param + ".name", Code: "missing_required_parameter", Message: "a function tool needs a name"}
		}
		if len(t.Name) > maxToolName || strings.ContainsAny(t.Name, " \t\r\n") {
			return invalid(param+".name", "a function name has at most %d characters and no spaces", maxToolName)
		}
		if len(t.Parameters) > 0 && !isNull(t.Parameters) && !isObject(t.Parameters) {
			return &ParamError{Param: param + ".parameters", Code: "invalid_type", Message: "parameters must be a JSON Schema object"}
		}
	}
	return nil
}

// Input item kinds. Hosted-tool calls are outcomes of tools a chat target
// cannot run; a history that carries them loses nothing the target could
// use when they are dropped.
var (
	hostedCallItems = map[string]bool{"web_search_call": true, "file_search_call": true, "code_interpreter_call": true,
		"image_generation_call": true, "computer_call": true, "computer_call_output": true, "mcp_call": true,
		"mcp_list_tools": true, "mcp_approval_request": true, "mcp_approval_response": true,
		"local_shell_call": true, "local_shell_call_output": true, "shell_call": true, "shell_call_output": true,
		"tool_search_call": true, "tool_search_output": true}
	messageRoles = map[string]bool{"user": true, "assistant": true, "system": true, "developer": true}
	imageDetails = map[string]bool{"": true, "auto": true, "low": true, "high": true, "original": true}
)

func validateItem(it *Item, param string) error {
	switch it.Kind() {
	case "message":
		if !messageRoles[it.Role] {
			if it.Role == "" {
				return &ParamError{Param: param + ".role", Code: "missing_required_parameter", Message: "a message needs a role"}
			}
			return invalid(param+".role", "role must be user, assistant, system or developer; got %q", it.Role)
		}
		if it.Content.IsZero() {
			return &ParamError{Param: param + ".content", Code: "missing_required_parameter", Message: "a message needs content"}
		}
		for i := range it.Content.Parts {
			if err := validatePart(&it.Content.Parts[i], it.Role, fmt.Sprintf("%s.content[%d]", param, i)); err != nil {
				return err
			}
		}
	case "function_call":
		switch {
		case it.CallID == "":
			return &ParamError{Param: param + ".call_id", Code: "missing_required_parameter", Message: "a function_call needs a call_id"}
		case it.Name == "":
			return &ParamError{Param: param + ".name", Code: "missing_required_parameter", Message: "a function_call needs a name"}
		case it.Arguments == nil:
			return &ParamError{Param: param + ".arguments", Code: "missing_required_parameter", Message: "a function_call needs arguments"}
		}
	case "function_call_output":
		if it.CallID == "" {
			return &ParamError{Param: param + ".call_id", Code: "missing_required_parameter", Message: "a function_call_output needs a call_id"}
		}
		if _, _, err := outputParts(it.Output, param+".output"); err != nil {
			return err
		}
	case "reasoning":
		for i, p := range it.Summary {
			if p.Type != "summary_text" {
				return invalid(fmt.Sprintf("%s.summary[%d].type", param, i), "reasoning summary parts must be summary_text; got %q", p.Type)
			}
		}
		for i, p := range it.Content.Parts {
			if p.Type != "reasoning_text" {
				return invalid(fmt.Sprintf("%s.content[%d].type", param, i), "reasoning content parts must be reasoning_text; got %q", p.Type)
			}
		}
	case "item_reference":
	case "":
		return &ParamError{Param: param + ".type", Code: "missing_required_parameter", Message: "an input item needs a type (or a role, for a message)"}
	default:
		if !hostedCallItems[it.Type] {
			return invalid(param+".type", "unknown input item type %q", it.Type)
		}
	}
	return nil
}

func validatePart(p *ContentPart, role, param string) error {
	switch p.Type {
	case "input_text", "output_text":
	case "refusal":
		if role != "assistant" {
			return invalid(param+".type", "refusal parts belong to assistant messages")
		}
	case "input_image":
		if p.ImageURL == nil && p.FileID == nil {
			return &ParamError{Param: param + ".image_url", Code: "missing_required_parameter", Message: "an input_image needs an image_url or a file_id"}
		}
		if !imageDetails[p.Detail] {
			return invalid(param+".detail", "detail must be auto, low, high or original; got %q", p.Detail)
		}
	case "input_file":
		if p.FileData == nil && p.FileID == nil && p.FileURL == nil {
			return &ParamError{Param: param + ".file_data", Code: "missing_required_parameter", Message: "an input_file needs file_data, a file_id or a file_url"}
		}
	case "":
		return &ParamError{Param: param + ".type", Code: "missing_required_parameter", Message: "each content part needs a type"}
	default:
		return invalid(param+".type", "unsupported content part type %q", p.Type)
	}
	return nil
}

func isObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

func isNull(raw []byte) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// isIdent reports whether s has only ASCII letters, digits, _ and -.
func isIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
