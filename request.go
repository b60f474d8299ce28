package llmbridge

import (
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
)

// Request is what the pipeline's pluggable stages (Admitter, Router) see of
// one request, whatever format the client spoke. It is created by the
// Bridge and valid only during the call it is passed to; stages must not
// keep it. Only an Admitter writes to it, and only KeyID.
type Request struct {
	// ID is the request id (the X-Request-Id of the response).
	ID string
	// Format is the API the client spoke: "chat" (Chat Completions),
	// "anthropic" (Messages), "anthropic_count_tokens", "responses"
	// (OpenAI's Responses API), "embeddings", or "models" for the model
	// list. Chat returns an error for "embeddings", which has no chat form.
	Format string
	// Model is the model the client asked for, before routing; empty when
	// the body did not name one (such a request is refused with 400 after
	// admission).
	Model string
	// Stream reports whether the client asked for a stream.
	Stream bool
	// KeyID is the non-secret identity of the caller. An Admitter that
	// recognises the caller sets it; the usage record, the log and the
	// observers carry it. Empty for anonymous callers.
	KeyID string
	// Header is the client's HTTP request header; nil for in-process
	// calls. It carries the caller's credential (see Credential): never
	// log it.
	Header http.Header

	c *call
}

// Credential returns the key the client presented (Authorization: Bearer
// or x-api-key), or "". It is a secret: compare it, never log or store it.
func (r *Request) Credential() string {
	if r.Header == nil {
		return ""
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return strings.TrimSpace(r.Header.Get("X-Api-Key"))
}

// InProcess reports whether the request came through ChatCompletion or
// ChatCompletionStream rather than the HTTP handler.
func (r *Request) InProcess() bool { return r.Header == nil }

// PromptTokensEstimate returns a quick estimate of the prompt's tokens for
// reserving against limits before the call, without decoding or
// tokenizing: the text of every string in the client's body (messages,
// roles, tool definitions) at 4 bytes a token; in-process, the messages'
// text. It is cheap enough for every request (one scan of the body);
// settle with the real usage afterwards (Ticket.Settle receives it).
func (r *Request) PromptTokensEstimate() int {
	if r.c == nil {
		return 0
	}
	if r.c.body != nil {
		return (stringBytes(gjson.ParseBytes(r.c.body)) + 3) / 4
	}
	n := 0
	if req := r.c.chat; req != nil {
		for i := range req.Messages {
			n += len(req.Messages[i].Content.String()) + 16
		}
	}
	return (n + 3) / 4
}

// Chat returns the request as a Chat Completions request, decoding the
// client's body on first use (the pass-through path never needs to). The
// result is shared: do not modify it. It fails with a 400 *APIError when
// the body is not a valid request.
func (r *Request) Chat() (*ChatRequest, error) {
	if r.c == nil {
		return nil, errorf(http.StatusBadRequest, ErrorTypeInvalidRequest, "invalid_request", "the %s endpoint has no chat request", r.Format)
	}
	req, aerr := r.c.request()
	if aerr != nil {
		return nil, aerr
	}
	return req, nil
}

// stringBytes is the length of every string value under v.
func stringBytes(v gjson.Result) int {
	switch {
	case v.Type == gjson.String:
		return len(v.Str)
	case v.IsObject(), v.IsArray():
		n := 0
		v.ForEach(func(_, e gjson.Result) bool {
			n += stringBytes(e)
			return true
		})
		return n
	}
	return 0
}
