package openai

import (
	"fmt"
	"net/http"
)

// Error types and codes the bridge itself produces.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypeUpstream       = "upstream_error"
	TypeServer         = "server_error"
)

// APIError is an error with an HTTP status and the fields of an OpenAI error
// body. Upstream errors keep the upstream's status, message, type, param and
// code; errors of the bridge's own use the Type… constants. Err, when set, is
// the cause; it is for logs and errors.Is/As and never shown to clients.
type APIError struct {
	Status  int    // HTTP status sent to the client
	Message string // human-readable; never contains secrets
	Type    string
	Param   string // empty is sent as null
	Code    string // empty is sent as null
	// RetryAfter is the Retry-After header value to send with the error,
	// usually copied from the upstream response.
	RetryAfter string
	// Provider names the upstream that produced the error, empty for the
	// bridge's own errors.
	Provider string
	Err      error
}

// Error implements error.
func (e *APIError) Error() string {
	if e.Provider != "" {
		return fmt.Sprintf("llmbridge: %s: %d %s", e.Provider, e.Status, e.Message)
	}
	return fmt.Sprintf("llmbridge: %d %s", e.Status, e.Message)
}

// Unwrap returns the cause.
func (e *APIError) Unwrap() error { return e.Err }

// StatusCode returns the HTTP status, or 500 when none was set.
func (e *APIError) StatusCode() int {
	if e.Status < 400 || e.Status > 599 {
		return http.StatusInternalServerError
	}
	return e.Status
}

// errorBody is the wire shape {"error":{"message","type","param","code"}}.
type errorBody struct {
	Error errorFields `json:"error"`
}

type errorFields struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// MarshalJSON writes the OpenAI error body.
func (e *APIError) MarshalJSON() ([]byte, error) {
	f := errorFields{Message: e.Message, Type: e.Type}
	if f.Type == "" {
		f.Type = TypeServer
	}
	if e.Param != "" {
		f.Param = &e.Param
	}
	if e.Code != "" {
		f.Code = &e.Code
	}
	return Marshal(errorBody{Error: f})
}

// Errorf returns an APIError of the bridge's own with a formatted message.
func Errorf(status int, typ, code, format string, args ...any) *APIError {
	return &APIError{Status: status, Type: typ, Code: code, Message: fmt.Sprintf(format, args...)}
}

// WriteError writes e as an HTTP response: its status, the OpenAI error
// body, Retry-After when set, and X-Should-Retry: false for the statuses a
// retry cannot fix (the OpenAI SDKs honour it).
func WriteError(w http.ResponseWriter, e *APIError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.RetryAfter != "" {
		h.Set("Retry-After", e.RetryAfter)
	}
	status := e.StatusCode()
	if status == http.StatusBadRequest || status == http.StatusNotFound || status == http.StatusRequestEntityTooLarge || status == http.StatusUnauthorized {
		h.Set("X-Should-Retry", "false")
	}
	body, _ := Marshal(e)
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
