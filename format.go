package llmbridge

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/llmbridge/llmbridge/internal/cache/codec"
	"github.com/llmbridge/llmbridge/internal/openai"
)

// clientFormat is one API shape clients speak (Chat Completions today;
// Anthropic Messages and OpenAI Responses are further values). It decodes
// and validates what arrives, recognises providers that speak it natively
// (whose bytes then pass through), and encodes responses, stream events
// and errors in its own shape. The pipeline does not know which format it
// runs.
type clientFormat interface {
	// name is the format's name in records and metrics ("chat").
	name() string
	// patterns are the ServeMux patterns the format serves.
	patterns() []string
	// parse validates a body's top level and reads its envelope. It does
	// not fail: a bad body is reported in envelope.bad, after admission.
	parse(body []byte) envelope
	// decode decodes a body into the canonical request.
	decode(body []byte, log *slog.Logger) (*ChatRequest, *APIError)
	// passThrough returns how to send the client's body to p unchanged
	// but for the model, or nil when p does not speak this format.
	passThrough(p Provider) rawRequest
	// relayNative relays a native 2xx response to the client through r,
	// noting usage and text in its meter.
	relayNative(r relay, resp *http.Response)
	// encodeResponse encodes a canonical response.
	encodeResponse(r *ChatResponse) ([]byte, error)
	// newStream returns the encoder of a canonical stream onto sw.
	newStream(r relay) streamEncoder
	// writeError writes an error response in the format's shape.
	writeError(w http.ResponseWriter, e *APIError)
	// errorEvent returns the event that reports e in a started stream.
	errorEvent(e *APIError) (name string, data []byte)
	// keepAlive returns the event sent during silence; ok false sends an
	// SSE comment (": keep-alive") instead.
	keepAlive() (name string, data []byte, ok bool)
}

// clientFormats are the formats the handler serves, in one place.
func clientFormats() []clientFormat {
	return []clientFormat{chatFormat{}, anthropicFormat{}, anthropicCountFormat{}, responsesFormat{}, embeddingsFormat{}}
}

// callDecoder is implemented by formats whose translation keeps per-call
// state for the encoders (Responses echoes its request): decodeCall
// replaces decode, returning the state too; the call keeps it (relay.state).
type callDecoder interface {
	decodeCall(body []byte) (*ChatRequest, any, *APIError)
}

// callEncoder is implemented by formats whose responses depend on that
// per-call state: encodeCall replaces encodeResponse, and may add
// response headers (r.header: nothing has been written yet).
type callEncoder interface {
	encodeCall(r relay, resp *ChatResponse) ([]byte, error)
}

// rawRequest builds an upstream request carrying the client's body. h is
// the client's request header (nil in-process), for the members of the
// format that travel in headers (anthropic-version, anthropic-beta); the
// client's credentials in it must never go upstream.
type rawRequest func(ctx context.Context, body []byte, model string, stream bool, h http.Header) (*http.Request, error)

// openAIRaw adapts an OpenAIWire provider, which needs no header of the
// client's, to rawRequest.
func openAIRaw(w OpenAIWire) rawRequest {
	return func(ctx context.Context, body []byte, model string, stream bool, _ http.Header) (*http.Request, error) {
		return w.NewRawRequest(ctx, body, model, stream)
	}
}

// localAnswerer is implemented by formats that answer some requests
// without the provider stage (count_tokens for a target that has no
// counting endpoint). answerLocally is called after routing and the
// observers' Start, with the first target; it either answers through out
// and reports true, or reports false and the call goes upstream.
type localAnswerer interface {
	answerLocally(c *call, t target, out output) bool
}

// envelope is what a format reads from a body without decoding it all:
// enough to admit, route and choose streaming.
type envelope struct {
	model        string
	stream       bool
	includeUsage bool      // the client asked for stream usage
	bad          *APIError // why the body is not acceptable, reported after admission
	sampling     sampling  // "n" and "temperature", when the parse read them (format_chat.go)
	text         int       // openai.TextBytes of the body, when textRead: the parse counted it
	textRead     bool
}

// output is where a call's answer goes: an HTTP client in its format, or an
// in-process caller.
type output interface {
	// ticketHeaders adds the headers of c's admission tickets to the
	// response (HeaderTicket); an in-process caller has none.
	ticketHeaders(c *call)
	// setHeader sets one header (canonical name): one allocation, not three.
	setHeader(name, value string)
	// reset forgets a stream opened for an answer that failed before
	// anything was written (a failover follows).
	reset()
	// held returns the failure the output did not write because another
	// target may answer (call.mayFailOver); run decides (relay returns it).
	held() *APIError
	// fail reports e: an error response when nothing was sent yet, an
	// error event (or the caller's error) after.
	fail(c *call, e *APIError)
	// response delivers a canonical non-streamed response.
	response(c *call, r *ChatResponse)
	// stream returns the consumer of a canonical stream.
	// stream returns the consumer of a canonical stream decoded from resp
	// (whose body it may wrap, e.g. to flush the client before each read).
	stream(c *call, resp *http.Response) streamEncoder
	// native relays the bytes of a target that speaks the client's format.
	native(c *call, resp *http.Response)
	// replay answers a cache hit from the stored wire when the client's
	// format can (cacheReplayer) and reports true; false leaves the hit to
	// be decoded and encoded as any answer.
	replay(c *call, e *codec.Entry) bool
}

// streamEncoder consumes a canonical stream: chunk for every chunk, then
// end exactly once, with the error that cut the stream or nil.
type streamEncoder interface {
	chunk(ch *ChatChunk) error
	end(err error)
}

// httpOutput answers an HTTP client in its format.
type httpOutput struct {
	w  http.ResponseWriter
	f  clientFormat
	sw *streamWriter // the open stream, if any
}

func (o *httpOutput) reset() {
	if o.sw != nil {
		o.sw.close()
		o.sw = nil
	}
	if h, ok := o.f.(headerFormat); ok { // the failed answer's own headers go with it
		h.startHeaders(o.w.Header(), o.w.Header().Get("X-Request-Id"))
	}
}

func (o *httpOutput) held() *APIError {
	if o.sw == nil {
		return nil
	}
	o.sw.mu.Lock()
	defer o.sw.mu.Unlock()
	return o.sw.held
}

func (o *httpOutput) ticketHeaders(c *call) { c.addTicketHeaders(o.w.Header()) }

func (o *httpOutput) setHeader(name, value string) { o.w.Header()[name] = []string{value} }

func (o *httpOutput) fail(c *call, e *APIError) {
	if e.Status == StatusClientClosedRequest {
		return // nobody to tell
	}
	if o.sw != nil {
		o.sw.fail(c, e)
		return
	}
	o.f.writeError(o.w, e)
}

func (o *httpOutput) response(c *call, r *ChatResponse) {
	var body []byte
	var err error
	if e, ok := o.f.(callEncoder); ok {
		body, err = e.encodeCall(o.port(c), r)
	} else {
		body, err = o.f.encodeResponse(r)
	}
	if err != nil {
		o.fail(c, c.fail(err))
		return
	}
	o.write(c, body)
}

// write sends a non-streamed JSON answer.
func (o *httpOutput) write(c *call, body []byte) {
	o.w.Header().Set("Content-Type", "application/json")
	c.observeFirstByte()
	newWriteDeadline(http.NewResponseController(o.w), c.b.cfg.timeouts.Write).renew(0)
	if _, err := o.w.Write(body); err != nil {
		c.fail(clientError(err))
	}
}

func (o *httpOutput) stream(c *call, resp *http.Response) streamEncoder {
	o.openStream(c)
	resp.Body = o.relayBody(resp)
	return o.f.newStream(o.port(c))
}

func (o *httpOutput) native(c *call, resp *http.Response) {
	if h, ok := o.f.(headerFormat); ok {
		h.nativeHeaders(o.w.Header(), resp.Header)
	}
	if c.env.stream {
		o.openStream(c)
		resp.Body = o.relayBody(resp)
	}
	o.f.relayNative(o.port(c), resp)
}

func (o *httpOutput) replay(c *call, e *codec.Entry) bool {
	r, ok := o.f.(cacheReplayer)
	return ok && r.replayEntry(o.port(c), e)
}

// openStream starts the client's stream: the status and headers go out
// with the first event or keep-alive.
func (o *httpOutput) openStream(c *call) {
	o.sw = newStreamWriter(o.w, o.f, c.b.cfg.keepAlive, c.b.cfg.timeouts.Write, c.observeFirstByte)
}

// close stops the stream's keep-alive timer, if a stream was opened.
func (o *httpOutput) close() {
	if o.sw != nil {
		o.sw.close()
	}
}

// relay is the port through which a client format's relay code touches
// the request (DESIGN.md §8; Envoy's filter callbacks are the model):
// write an event or data, flush, ask whether the response is committed,
// reach the meter, and the few facts a relay needs of the client and the
// target. Formats use its methods only, never the call or the output
// behind it, so what a relay may do is read here. It is two pointers,
// built once per answer: the hot path allocates nothing for it.
type relay struct {
	c *call
	o *httpOutput
}

func (o *httpOutput) port(c *call) relay { return relay{c: c, o: o} }

// event, data, flush, end and committed are the open stream's
// (streamWriter); a non-streamed answer uses write and fail.
func (r relay) event(name string, p []byte) error { return r.o.sw.event(name, p) }
func (r relay) data(p []byte) error               { return r.o.sw.data(p) }
func (r relay) flush() error                      { return r.o.sw.flush() }
func (r relay) end(name string, p []byte) error   { return r.o.sw.end(name, p) }
func (r relay) committed() bool                   { return r.o.sw.committed() }

// meter is where a relay notes usage, text, the cache's tap.
func (r relay) meter() *meter { return &r.c.meter }

// The client's request as a relay needs it.
func (r relay) stream() bool        { return r.c.env.stream }
func (r relay) includeUsage() bool  { return r.c.env.includeUsage }
func (r relay) model() string       { return r.c.env.model }
func (r relay) body() []byte        { return r.c.body }
func (r relay) state() any          { return r.c.state } // the format's per-call state (callDecoder)
func (r relay) header() http.Header { return r.o.w.Header() }

// upstream is the answering target's provider (its key's) and model;
// fromUpstream is false for a cache hit, which has none.
func (r relay) upstream() (Provider, string) { return r.c.target.prov(), r.c.target.model }
func (r relay) fromUpstream() bool           { return r.c.target.up != nil }
func (r relay) tokens() *TokenCounter        { return r.c.b.tokens }

// estimatedUsage counts the prompt and the relayed text for a client
// that must be told a usage the upstream did not report.
func (r relay) estimatedUsage() *Usage { return r.c.estimatedUsage() }

// write sends a non-streamed answer; fail reports err (converted as the
// call converts upstream errors), failOwn the error of a bridge stage.
func (r relay) write(body []byte)               { r.o.write(r.c, body) }
func (r relay) fail(err error)                  { r.o.fail(r.c, r.c.fail(err)) }
func (r relay) failOwn(stage string, err error) { r.o.fail(r.c, r.c.ownError(stage, err)) }
func (r relay) openStream()                     { r.o.openStream(r.c) }
func (r relay) native(resp *http.Response)      { r.o.native(r.c, resp) }

// redact removes the provider key of the answering target from an
// upstream error event before it is relayed: upstreams echo the key they
// were sent ("Incorrect API key provided: sk-…"), and what the bridge
// says of a non-streamed error has it redacted by the provider
// (Endpoint.Redact) the same way.
func (r relay) redact(data []byte) []byte {
	t := r.c.target
	p := t.up.p
	if t.key != nil {
		p = t.key.p // the key this request used
	}
	if k, ok := p.(interface{ APIKey() string }); ok {
		return openai.RedactJSON(data, k.APIKey())
	}
	return data
}

// endStream records how a relayed stream ended and tells the client about
// a failure: errReported when the upstream's own error event was relayed,
// another error when the stream was cut.
func (r relay) endStream(err error) {
	c, sw := r.c, r.o.sw
	switch {
	case err == nil, errors.Is(err, errFailedOver):
	case errors.Is(err, errReported):
		c.rec.Error = "upstream sent an error event"
		c.rec.Status = http.StatusBadGateway
		if !c.first.IsZero() {
			c.rec.Status = http.StatusOK
		}
		c.streamFailed(c.rec.Error)
	default:
		committed := sw.committed()
		e := c.fail(err)
		if e.Status == StatusClientClosedRequest {
			return // nobody reads any more
		}
		if committed {
			c.rec.Status = http.StatusOK
		}
		if sw.fail(c, e) {
			return // held: run fails over and books the failure (failOver)
		}
		if c.target.h != nil && e.StatusCode() >= 500 {
			c.streamFailed(e.Message)
		}
	}
}

// failStarted notes err, which cut a committed stream, and returns the
// error for the format to report in the stream's own terms; nil when the
// client went away and nobody reads.
func (r relay) failStarted(err error) *APIError {
	e := r.c.fail(err)
	if e.Status == StatusClientClosedRequest {
		return nil
	}
	r.c.rec.Status = http.StatusOK
	return e
}

// streamFailed books a stream that failed after its 2xx against the
// target's breaker: a target whose streams keep breaking is ejected like
// one that refuses connections.
func (c *call) streamFailed(why string) {
	if c.target.h != nil {
		c.target.h.Failure(c.b.clock.Now(), why, true)
	}
}

// errFailedOver ends a relay at an upstream error event that came before
// any byte reached the client: the next target answers (failOver).
var errFailedOver = errors.New("failed over to the next target")

// failOverEvent reports, for an upstream error event that arrives before
// anything was sent to the client, whether another target may answer
// instead; if so the relay ends with errFailedOver and the stream holds
// the failure for run (mayFailOver).
func (r relay) failOverEvent() bool {
	sw := r.o.sw
	if sw.committed() {
		return false
	}
	e := &APIError{Status: http.StatusBadGateway, Type: ErrorTypeUpstream, Code: "upstream_error",
		Message: "upstream " + r.c.target.up.name + " sent an error event before any content"}
	if !r.c.mayFailOver(e) {
		return false
	}
	sw.mu.Lock()
	sw.held = e
	sw.mu.Unlock()
	return true
}

// relayBody relays a native non-streamed answer unchanged: the body is
// read (bounded, checked to be JSON), note takes the usage or text from
// it, and it goes to the client as it came.
func (r relay) relayBody(resp *http.Response, note func(body []byte)) {
	out, err := openai.ReadResponseBody(resp.Body)
	resp.Body.Close()
	if err != nil {
		r.fail(err)
		return
	}
	note(out)
	r.write(out)
}
