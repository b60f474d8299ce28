package openai

import "net/http"

// errorCode is the type and code of an OpenAI error body.
type errorCode struct{ typ, code string }

// errorCodes is the error table of OpenAI-format clients (Chat
// Completions, Responses, embeddings) for errors translated from an
// upstream of another wire family (Anthropic, Gemini): what OpenAI
// itself sends for that status, so that clients matching on code
// ("rate_limit_exceeded", "invalid_api_key", "insufficient_quota") keep
// working. A status not listed is invalid_request_error below 500 and
// server_error from 500, both with a null code, as OpenAI's own are.
var errorCodes = map[int]errorCode{
	http.StatusBadRequest:            {TypeInvalidRequest, ""},
	http.StatusUnauthorized:          {TypeInvalidRequest, "invalid_api_key"},
	http.StatusPaymentRequired:       {"insufficient_quota", "insufficient_quota"},
	http.StatusForbidden:             {TypeInvalidRequest, "permission_denied"},
	http.StatusNotFound:              {TypeInvalidRequest, "model_not_found"},
	http.StatusRequestEntityTooLarge: {TypeInvalidRequest, "request_too_large"},
	http.StatusTooManyRequests:       {"requests", "rate_limit_exceeded"},
}

// TranslatedError returns the OpenAI error for a failure an upstream of
// another wire family reported with status, keeping its message (which
// must hold no secret), the provider's name and Retry-After: the type
// and code come from the OpenAI clients' table, never from the
// upstream's own vocabulary.
func TranslatedError(status int, provider, message, retryAfter string) *APIError {
	c, ok := errorCodes[status]
	if !ok {
		c.typ = TypeInvalidRequest
		if status >= 500 {
			c.typ = TypeServer
		}
	}
	return &APIError{Status: status, Type: c.typ, Code: c.code, Message: message, Provider: provider, RetryAfter: retryAfter}
}
