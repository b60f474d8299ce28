package llmbridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/viaproxy"
	"github.com/tidwall/gjson"
)

// APIError is the error the bridge returns and serves: an HTTP status and
// the fields of an OpenAI error body ({"error":{"message","type","param",
// "code"}}). Upstream errors keep the upstream's status, message and
// Retry-After. Use errors.As to get one from any error the Bridge returns.
type APIError = openai.APIError

// Error types of the bridge's own errors (APIError.Type). Upstream errors
// keep the upstream's type.
const (
	ErrorTypeInvalidRequest = openai.TypeInvalidRequest
	ErrorTypeAuthentication = openai.TypeAuthentication
	ErrorTypeUpstream       = openai.TypeUpstream
	ErrorTypeServer         = openai.TypeServer
)

// StatusClientClosedRequest is the status recorded (never sent) for a request
// whose client went away before it finished.
const StatusClientClosedRequest = 499

// errorf builds one of the bridge's own errors.
func errorf(status int, typ, code, format string, args ...any) *APIError {
	return openai.Errorf(status, typ, code, format, args...)
}

// asAPIError converts any error from a request's life to an *APIError: the
// one place that decides the status and body of everything the bridge
// itself reports. parent is the caller's context, used to tell a client
// that went away from an upstream that failed. Messages name the provider
// (and a proxy's host) but never an internal cause such as a dialled
// address: the cause is logged with the request id instead.
func (b *Bridge) asAPIError(parent context.Context, rid, provider string, err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	var cw *clientWriteError
	if errors.As(err, &cw) {
		msg := "the client went away"
		if isTimeout(cw.err) {
			msg = msgWriteTimeout
		}
		return &APIError{Status: StatusClientClosedRequest, Type: ErrorTypeInvalidRequest, Code: "client_closed_request",
			Message: msg, Provider: provider, Err: err}
	}
	if errors.Is(context.Cause(parent), ErrShuttingDown) {
		return &APIError{Status: http.StatusServiceUnavailable, Type: ErrorTypeServer, Code: "server_shutting_down", RetryAfter: "1",
			Message: "the server is shutting down; retry on another instance", Provider: provider, Err: err}
	}
	if parent.Err() != nil {
		return &APIError{Status: StatusClientClosedRequest, Type: ErrorTypeInvalidRequest, Code: "client_closed_request",
			Message: "the client closed the request", Provider: provider, Err: err}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &APIError{Status: http.StatusRequestEntityTooLarge, Type: ErrorTypeInvalidRequest, Code: "request_too_large",
			Message: fmt.Sprintf("request body is larger than the %d-byte limit", mbe.Limit), Err: err}
	}
	e := classify(provider, err)
	e.Provider, e.Err = provider, err
	e.Message += " (request id " + rid + ")"
	b.log.Warn("upstream failure", "request_id", rid, "provider", provider, "code", e.Code, "cause", redactedCause(err))
	return e
}

// classify names an upstream failure without revealing its cause.
func classify(provider string, err error) *APIError {
	up := "the upstream" // the call ended before any target was tried
	if provider != "" {
		up = "upstream " + provider
	}
	var pe *viaproxy.Error
	if errors.As(err, &pe) {
		return &APIError{Status: http.StatusBadGateway, Type: ErrorTypeUpstream, Code: "proxy_unreachable",
			Message: fmt.Sprintf("%s: cannot connect through proxy %s", up, pe.Host)}
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "proxyconnect" {
		// The proxy answered CONNECT with an error status (407, 403, …).
		return &APIError{Status: http.StatusBadGateway, Type: ErrorTypeUpstream, Code: "proxy_unreachable",
			Message: up + ": the proxy refused the connection"}
	}
	switch {
	case errors.Is(err, errIdleTimeout):
		return &APIError{Status: http.StatusGatewayTimeout, Type: ErrorTypeUpstream, Code: "upstream_idle_timeout",
			Message: up + " sent nothing for longer than the stream idle timeout"}
	case errors.Is(err, errHeaderTimeout):
		return &APIError{Status: http.StatusGatewayTimeout, Type: ErrorTypeUpstream, Code: "upstream_timeout",
			Message: up + " did not answer within the header timeout"}
	case errors.Is(err, errMaxDuration):
		return &APIError{Status: http.StatusGatewayTimeout, Type: ErrorTypeUpstream, Code: "upstream_timeout",
			Message: up + " did not finish within the maximum request duration"}
	case isConnectError(err):
		return &APIError{Status: http.StatusBadGateway, Type: ErrorTypeUpstream, Code: "upstream_unreachable",
			Message: up + " is unreachable"}
	case isTimeout(err):
		return &APIError{Status: http.StatusGatewayTimeout, Type: ErrorTypeUpstream, Code: "upstream_timeout",
			Message: up + " timed out"}
	case errors.Is(err, ErrTruncated), errors.Is(err, io.ErrUnexpectedEOF):
		return &APIError{Status: http.StatusBadGateway, Type: ErrorTypeUpstream, Code: "upstream_error",
			Message: up + " closed the stream before it finished"}
	}
	return &APIError{Status: http.StatusBadGateway, Type: ErrorTypeUpstream, Code: "upstream_error",
		Message: up + " failed"}
}

// redirectError is the answer to a provider that answered a request with a
// redirect (any 3xx): a 502 naming the provider and the status, never the
// Location (it may name an internal host, or carry a key) nor the body.
func redirectError(provider string, status int) *APIError {
	return &APIError{Status: http.StatusBadGateway, Type: ErrorTypeUpstream, Code: "upstream_redirect", Provider: provider,
		Message: fmt.Sprintf("provider %s answered with a redirect (%d); the bridge does not follow redirects from providers", provider, status)}
}

// redactedCause is err's text for the log, without the request URL that a
// *url.Error adds (a Gemini-compatible URL could carry a key= parameter).
func redactedCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

// isConnectError reports whether err happened while connecting (refused,
// unreachable, DNS failure, dial timeout): nothing reached the upstream.
func isConnectError(err error) bool {
	var pe *viaproxy.Error
	if errors.As(err, &pe) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect") {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// writeError writes e as an OpenAI error response.
func writeError(w http.ResponseWriter, e *APIError) { openai.WriteError(w, e) }

// modelError is why a request's model member is refused (nil: it is
// not): missing, not a string, empty or longer than openai.MaxModelLen.
func modelError(exists bool, typ gjson.Type, model string) *APIError {
	switch {
	case !exists:
		return badRequest("model", "missing_required_parameter", "You must provide a model parameter.")
	case typ != gjson.String:
		return badRequest("model", "invalid_type", "model must be a string.")
	case model == "":
		return badRequest("model", "invalid_value", "model must not be empty.")
	case len(model) > openai.MaxModelLen:
		return badRequest("model", "invalid_value", "model may be at most %d characters long.", openai.MaxModelLen)
	}
	return nil
}

// badRequest is a 400 invalid_request_error naming param.
func badRequest(param, code, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Type: ErrorTypeInvalidRequest, Param: param, Code: code, Message: fmt.Sprintf(format, args...)}
}

// checkObject checks a body that must be a JSON object in valid UTF-8
// (from invalid UTF-8, encoding/json would read another model name than
// the router does) with no member name an upstream's decoder could read
// differently from gjson (openai.CheckMembers with the format's top-level
// members): all three in one reading of the body, whose root it then
// hands to f on the same tape. With f nil nothing reads the root, and a
// large body is checked without a tape (openai.CheckJSON: an embeddings
// request of token ids is millions of values).
func checkObject(body []byte, members *openai.FieldSet, f func(root openai.Value)) *APIError {
	if f == nil {
		valid, utf8OK, fault := openai.CheckJSON(body, members)
		return objectFault(valid, utf8OK, valid && openai.ParseView(body).IsObject(), fault)
	}
	var e *APIError
	valid, tooMany := openai.ReadChecked(body, members, func(root openai.Value, fault *openai.MemberFault, utf8OK bool) {
		if e = objectFault(true, utf8OK, root.IsObject(), fault); e == nil {
			f(root)
		}
	})
	if tooMany != nil {
		return tooMany
	}
	if !valid {
		return objectFault(false, false, false, nil)
	}
	return e
}

// objectFault is checkObject's refusal of a body, nil for none.
func objectFault(valid, utf8OK, object bool, fault *openai.MemberFault) *APIError {
	switch {
	case !valid:
		return badRequest("", "invalid_json", "We could not parse the JSON body of your request: it is not valid JSON.")
	case !utf8OK:
		return badRequest("", "invalid_json", "We could not parse the JSON body of your request: it is not valid UTF-8.")
	case !object:
		return badRequest("", "invalid_request", "The request body must be a JSON object.")
	case fault != nil:
		return fault.APIError()
	}
	return nil
}

// msgWriteTimeout is the record's error of a request whose client stopped
// reading (the write timeout cut it): WithClientCut's hook runs for it.
const msgWriteTimeout = "the client stopped reading the answer (write timeout)"
