package llmbridge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
	anthropicprov "github.com/llmbridge/llmbridge/internal/provider/anthropic"
	"github.com/llmbridge/llmbridge/internal/sse"
	"github.com/tidwall/gjson"
)

// anthropicFormat is Anthropic's Messages API (POST /v1/messages; clients
// add ?beta=true), as Claude Code and the Anthropic SDKs speak it.
// Providers that implement AnthropicWire get the client's bytes and their
// answer is relayed unchanged; for every other provider the body is
// translated to the canonical Chat request and the answer back to the
// Messages shape (internal/provider/anthropic holds both directions).
// Errors have Anthropic's shape, stream errors are an "error" event, and
// silence is filled with "ping" events.
type anthropicFormat struct{}

// The built-in Anthropic provider is the pass-through target.
var _ AnthropicWire = (*anthropicprov.Provider)(nil)

func (anthropicFormat) name() string { return "anthropic" }

func (anthropicFormat) patterns() []string { return []string{"POST /v1/messages"} }

func (anthropicFormat) parse(body []byte) envelope { return anthropicEnvelope(body, false) }

func anthropicEnvelope(body []byte, countTokens bool) envelope {
	in, bad := anthropicprov.CheckEnvelope(body, countTokens)
	env := envelope{model: in.Model, stream: in.Stream, text: in.TextBytes, textRead: true}
	if bad != nil {
		env.bad = bad
	}
	return env
}

func (anthropicFormat) decode(body []byte, log *slog.Logger) (*ChatRequest, *APIError) {
	d, err := anthropicprov.DecodeMessages(body)
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			ae = errorf(http.StatusBadRequest, ErrorTypeInvalidRequest, "invalid_request_error", "%v", err)
		}
		return nil, ae
	}
	if len(d.DroppedTools) > 0 {
		log.Debug("anthropic: server-side tools dropped for a translated request", "tool_types", d.DroppedTools)
	}
	return d.Request, nil
}

func (anthropicFormat) passThrough(p Provider) rawRequest {
	if w, ok := p.(AnthropicWire); ok {
		return w.NewRawMessagesRequest
	}
	return nil
}

// relayNative relays a Messages answer unchanged: every stream event
// (its "event:" line included) or the response body, reading the usage
// (cache reads and writes too) from the bytes on the way.
func (anthropicFormat) relayNative(r relay, resp *http.Response) {
	if r.stream() {
		err := relayAnthropic(r, resp.Body)
		closeRelayed(resp.Body, err)
		r.endStream(err)
		return
	}
	r.relayBody(resp, func(out []byte) {
		if u := gjson.GetBytes(out, "usage"); u.IsObject() {
			r.meter().noteUsage(anthropicprov.UsageOf([]byte(u.Raw)))
		}
	})
}

// relayAnthropic copies a Messages event stream to the client event by
// event, noting its usage in r's meter. It ends after message_stop; an upstream
// "error" event is relayed (the provider key redacted from it) and ends it
// with errReported; a stream that stops before message_stop ends with
// ErrTruncated.
func relayAnthropic(r relay, body io.Reader) error {
	sr := sse.NewReader(body)
	defer sr.Release()
	var usage anthropicprov.StreamUsage
	defer func() {
		if u := usage.Usage(); u != nil {
			r.meter().noteUsage(u)
		}
	}()
	for {
		ev, err := sr.Next()
		if err != nil {
			if err == io.EOF {
				return openai.Truncated("no message_stop")
			}
			return err
		}
		typ := usage.Observe(ev.Data)
		data := ev.Data
		if typ == "error" || ev.Name == "error" {
			if r.failOverEvent() {
				return errFailedOver
			}
			data = r.redact(data) // the key an upstream echoes goes no further
		}
		if typ == "message_stop" {
			return r.end(ev.Name, data) // out with the response's end
		}
		if err := r.event(ev.Name, data); err != nil {
			return err
		}
		if typ == "error" || ev.Name == "error" {
			if err := r.flush(); err != nil {
				return err
			}
			return errReported
		}
	}
}

func (anthropicFormat) encodeResponse(r *ChatResponse) ([]byte, error) {
	return anthropicprov.EncodeMessage(r)
}

// newStream encodes a canonical stream as the Messages event sequence.
func (anthropicFormat) newStream(r relay) streamEncoder {
	return &anthropicStream{r: r, enc: anthropicprov.NewStreamEncoder(r.model())}
}

type anthropicStream struct {
	r   relay
	enc *anthropicprov.StreamEncoder
}

// chunk writes the chunk's events. They are flushed when the relay next
// waits for the upstream (httpOutput.relayBody: the provider's decoder
// reads the body the output wrapped), so the events of chunks that arrived
// together go out in one write.
func (s *anthropicStream) chunk(ch *ChatChunk) error {
	return s.write(s.enc.Chunk(ch), false)
}

// write writes events; the last of the stream's (last) as its end,
// which goes out with the response's end (streamWriter.end).
func (s *anthropicStream) write(events []anthropicprov.Event, last bool) error {
	for i, ev := range events {
		if last && i == len(events)-1 {
			return s.r.end(ev.Name, ev.Data)
		}
		if err := s.r.event(ev.Name, ev.Data); err != nil {
			return err
		}
	}
	return nil
}

// end closes a finished stream with message_delta (stop reason, usage)
// and message_stop; a failed one gets an error event and no message_stop.
func (s *anthropicStream) end(err error) {
	if err == nil {
		u := s.r.meter().usage
		if u == nil {
			u = s.r.estimatedUsage()
		}
		err = s.write(s.enc.End(u), true)
	}
	s.r.endStream(err)
}

// writeError writes {"type":"error","error":{"type","message"}} with the
// error's status, Retry-After when set, and x-should-retry: false for the
// statuses a retry cannot fix (the Anthropic SDKs honour it).
func (anthropicFormat) writeError(w http.ResponseWriter, e *APIError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.RetryAfter != "" {
		h.Set("Retry-After", e.RetryAfter)
	}
	status := e.StatusCode()
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusRequestEntityTooLarge:
		h.Set("X-Should-Retry", "false")
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(anthropicErrorBody(e), '\n'))
}

func (anthropicFormat) errorEvent(e *APIError) (string, []byte) {
	return "error", anthropicErrorBody(e)
}

func (anthropicFormat) keepAlive() (string, []byte, bool) {
	return "ping", []byte(`{"type": "ping"}`), true
}

// headerFormat is implemented by formats whose clients read response
// headers of their API's own. startHeaders runs when a call of the
// format starts, and again when a failover forgets an answer, before
// anything is written, with the bridge's request id; nativeHeaders runs
// before the first byte of a native answer, with the upstream's response
// headers, and sets those that pass on.
type headerFormat interface {
	startHeaders(h http.Header, rid string)
	nativeHeaders(dst, upstream http.Header)
}

// startHeaders sets request-id, which the Anthropic SDKs read
// (message._request_id, APIStatusError.request_id) and tell users to log,
// and removes an upstream's rate-limit headers.
func (anthropicFormat) startHeaders(h http.Header, rid string) {
	for k := range h {
		if strings.HasPrefix(k, "Anthropic-Ratelimit-") {
			delete(h, k)
		}
	}
	h.Set("Request-Id", rid)
}

// nativeHeaders passes on the upstream's request-id (the id Anthropic's
// support knows) and its anthropic-ratelimit-* headers.
func (anthropicFormat) nativeHeaders(dst, upstream http.Header) {
	for k, v := range upstream {
		if k == "Request-Id" || strings.HasPrefix(k, "Anthropic-Ratelimit-") {
			dst[k] = v
		}
	}
}

// anthropicErrorBody is e in Anthropic's error shape.
func anthropicErrorBody(e *APIError) []byte {
	body, _ := openai.Marshal(struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}{Type: "error", Error: struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}{anthropicErrorType(e), e.Message}})
	return body
}

// anthropicErrorTypes is the error table of Anthropic-format clients:
// the Messages API's error type for each status. Every error they get,
// the bridge's own or an upstream's in any vocabulary (OpenAI's codes,
// Gemini's statuses), is typed by its status; an unlisted one is
// api_error from 500, invalid_request_error below.
var anthropicErrorTypes = map[int]string{
	http.StatusBadRequest: "invalid_request_error", http.StatusUnauthorized: "authentication_error",
	http.StatusPaymentRequired: "billing_error", http.StatusForbidden: "permission_error",
	http.StatusNotFound: "not_found_error", http.StatusRequestEntityTooLarge: "request_too_large",
	http.StatusTooManyRequests: "rate_limit_error", http.StatusGatewayTimeout: "timeout_error",
	http.StatusServiceUnavailable: "overloaded_error", statusOverloaded: "overloaded_error",
}

// anthropicErrorType names e's type in the Messages API (anthropicErrorTypes).
func anthropicErrorType(e *APIError) string {
	status := e.StatusCode()
	if e.Code == "invalid_api_key" {
		return "authentication_error"
	}
	if t, ok := anthropicErrorTypes[status]; ok {
		return t
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// anthropicCountFormat is POST /v1/messages/count_tokens: the Anthropic
// upstream's own endpoint when the route ends there, otherwise the prompt
// counted by the Bridge's TokenCounter (an estimate for models that are
// not OpenAI's), marked with the response header X-Token-Count:
// approximate. Its records (Format "anthropic_count_tokens") carry no
// tokens: counting is not billed.
type anthropicCountFormat struct{ anthropicFormat }

func (anthropicCountFormat) name() string { return "anthropic_count_tokens" }

// uncached: a count is not a completion; the response cache leaves it alone.
func (anthropicCountFormat) uncached() {}

func (anthropicCountFormat) patterns() []string {
	return []string{"POST /v1/messages/count_tokens"}
}

func (anthropicCountFormat) parse(body []byte) envelope { return anthropicEnvelope(body, true) }

// passThrough sends to a counting endpoint. A target without one is
// answered locally when it comes first (answerLocally); reached by
// failover, it fails rather than running a completion.
func (anthropicCountFormat) passThrough(p Provider) rawRequest {
	if w, ok := p.(AnthropicWire); ok {
		return func(ctx context.Context, body []byte, model string, _ bool, h http.Header) (*http.Request, error) {
			return w.NewRawCountTokensRequest(ctx, body, model, h)
		}
	}
	return func(context.Context, []byte, string, bool, http.Header) (*http.Request, error) {
		return nil, errorf(http.StatusBadGateway, ErrorTypeUpstream, "upstream_error", "count_tokens: the route's counting upstream failed and %s has no counting endpoint", p.Name())
	}
}

// relayNative relays the upstream's count unchanged.
func (anthropicCountFormat) relayNative(r relay, resp *http.Response) {
	out, err := openai.ReadResponseBody(resp.Body)
	resp.Body.Close()
	if err != nil {
		r.fail(err)
		return
	}
	r.meter().noteUsage(&Usage{}) // counting uses no tokens
	r.write(out)
}

// answerLocally counts the prompt when the first target has no counting
// endpoint of its own.
func (anthropicCountFormat) answerLocally(c *call, t target, out output) bool {
	o, ok := out.(*httpOutput)
	if _, native := t.prov().(AnthropicWire); native || !ok {
		return false
	}
	c.target = t
	req, aerr := c.request()
	if aerr != nil {
		o.fail(c, c.note(aerr))
		return true
	}
	n, _ := c.b.tokens.CountPrompt(t.model, req)
	o.w.Header().Set("X-Token-Count", "approximate")
	o.write(c, append(strconv.AppendInt([]byte(`{"input_tokens":`), int64(n), 10), '}'))
	return true
}
