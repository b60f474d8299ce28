package openai

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// BadRequest returns a 400 invalid_request_error naming the offending
// request member.
func BadRequest(param, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: "invalid_value", Param: param, Message: fmt.Sprintf(format, args...)}
}

// StopSequences returns the request's stop member as a list (OpenAI allows
// a string or an array of strings).
func (r *ChatRequest) StopSequences() ([]string, error) {
	if len(r.Stop) == 0 || string(r.Stop) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(r.Stop, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if json.Unmarshal(r.Stop, &many) != nil {
		return nil, BadRequest("stop", "stop must be a string or an array of strings")
	}
	return many, nil
}

// ToolChoiceMode reads tool_choice: mode is "" (absent), "auto", "none",
// "required", or "function" with the function's name.
func (r *ChatRequest) ToolChoiceMode() (mode, name string, err error) {
	if len(r.ToolChoice) == 0 || string(r.ToolChoice) == "null" {
		return "", "", nil
	}
	if json.Unmarshal(r.ToolChoice, &mode) == nil {
		switch mode {
		case "auto", "none", "required":
			return mode, "", nil
		}
		return "", "", BadRequest("tool_choice", "tool_choice %q is not supported", mode)
	}
	var named namedChoice
	if DecodeExact(r.ToolChoice, &named, namedChoiceFields) != nil || named.Function.Name == "" {
		return "", "", BadRequest("tool_choice", "tool_choice must be auto, none, required or a named function")
	}
	return "function", named.Function.Name, nil
}

// namedChoice is tool_choice naming a function, decoded case-sensitively
// (DecodeExact) as the validator read it.
type namedChoice struct {
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

var namedChoiceFields = JSONFields[namedChoice]()
