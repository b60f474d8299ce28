package llmbridge

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/llmbridge/llmbridge/internal/cache/codec"
	"github.com/llmbridge/llmbridge/internal/openai"
)

// call is one request's life, from the decoded input to the final record.
// run is the pipeline of DESIGN.md §8; every stage is a method or value
// named in it, and the HTTP handler and the in-process API differ only in
// the input they fill in and the output they pass. Its state is three
// small holders — what came in (input), what the provider stage did
// (attempts) and what was measured (meter) — beside the contexts and
// admission's tickets.
type call struct {
	b   *Bridge
	f   clientFormat // the format the client speaks (chat in-process)
	req Request      // what admission and routing see

	input    // the client's request
	attempts // the provider stage: targets, tries, failover (retry.go)
	meter    // the record and what the relays noted for it (record.go)

	tickets tickets // admission's, settled at the end

	parent context.Context // the caller's
	ctx    context.Context // the upstream's: parent + max duration + idle
	cancel context.CancelCauseFunc
	stop   *time.Timer // the maximum duration's: cancel(errMaxDuration)
}

// input is the client's request as the stages need it.
type input struct {
	env     envelope     // model, stream, usage option; bad holds a parse error
	body    []byte       // the client's body (handler); nil in-process
	chat    *ChatRequest // the canonical request: given in-process, else decoded on demand
	chatErr *APIError    // why the body did not decode
	state   any          // the format's per-call state, set by a callDecoder (the Responses translation)
}

// attempts is the provider stage's state: where the answer came from and
// what is left to try.
type attempts struct {
	target  target   // the target that answered
	rest    []target // the targets after it, for a failover before commit
	native  bool     // the target speaks the client's format: bytes pass through
	sent    int      // upstream attempts made
	retryOn failKind // the route's RetryOn; 0: RetryPolicy.CheckRetry decides
	inSend  bool     // counted among the active requests (retry.go, release)
	retried bool     // holds a place in the retry budget
}

// meter is what a call measures of its answer: the record it ends with
// and what the relays note for it.
type meter struct {
	rec      UsageRecord // the record the call ends with
	accepted bool        // the upstream answered 2xx
	rawUsage []byte      // usage object seen by a pass-through relay
	usage    *Usage      // usage seen by the typed paths
	text     []byte      // completion text relayed, for counting without usage (its first textKeep bytes)
	textMore int         // bytes of completion text beyond text
	first    time.Time   // first byte to the client
	tap      *cacheTap   // records a pass-through answer for the cache (cache_record.go)
}

// run is the pipeline. out is where the answer goes (an HTTP client in its
// format, or an in-process caller); whatever happens, the call ends with
// exactly one record (finish, deferred).
//
//	admission → validation → cache → router → [observers: Start] → provider
//	(attempts, failover) → relay → [observers: FirstByte … End]
func (c *call) run(out output) {
	c.begin()
	defer c.finish()
	defer c.end()
	e := c.admit() // who calls, may they, now?
	out.ticketHeaders(c)
	if e != nil {
		out.fail(c, e)
		return
	}
	if e := c.env.bad; e != nil { // what they sent, judged after who sent it
		out.fail(c, c.note(e))
		return
	}
	if c.cached(&out) { // the cache (cache.go): a hit answers here; a miss is recorded on its way out
		return
	}
	targets, e := c.route() // where it may go, in order
	if e != nil {
		out.fail(c, c.note(e))
		return
	}
	c.observeStart()
	if l, ok := c.f.(localAnswerer); ok && l.answerLocally(c, targets[0], out) {
		return // answered by the format itself (count_tokens counted here)
	}
	resp, err := c.send(targets) // the provider stage: build, send, retry, fail over
	for {
		if err != nil {
			out.fail(c, c.fail(err))
			return
		}
		out.setHeader("X-Llmbridge-Target", c.target.name())
		c.watchIdle(resp)
		failed := c.relay(out, resp) // to the client, in its format
		if failed == nil {
			return
		}
		// The answer failed before any byte reached the client and another
		// target may answer: the one decision to fail over, taken here.
		c.failOver(failed)
		resp, err = c.resend(out, failed)
	}
}

// mayFailOver reports whether, when an answer that began 2xx fails before
// any byte reached the client, the router's next target may answer
// instead: only for upstream failures (5xx, 429, a cut or an error
// event), while the client waits and the call has time, and only if a
// target is left. It decides nothing: a relay or output that may fail
// over writes nothing and holds e, and run fails over (failOver).
func (c *call) mayFailOver(e *APIError) bool {
	return len(c.rest) > 0 && c.first.IsZero() && c.ctx.Err() == nil && c.target.h != nil &&
		(e.StatusCode() >= 500 || e.Status == http.StatusTooManyRequests)
}

// failOver books the failure e against the target that failed, before
// run tries the next one; a rate limit (429) is no health failure (judge).
func (c *call) failOver(e *APIError) {
	c.target.h.Failure(c.b.clock.Now(), e.Message, e.Status != http.StatusTooManyRequests)
	c.target.h.Release() // send counted it for the answer that failed
	c.target = target{}
}

// resend sends to the targets left after a failover and forgets what the
// failed answer left in the call.
func (c *call) resend(out output, failed *APIError) (*http.Response, error) {
	rest := c.rest
	c.rest = nil
	c.native, c.accepted, c.usage, c.rawUsage, c.text, c.textMore = false, false, nil, c.rawUsage[:0], c.text[:0], 0
	c.rec.Error, c.rec.ErrorCode, c.rec.Status = "", "", 0
	out.reset()
	resp, err := c.send(rest)
	if resp == nil && err == nil { // the retry budget is spent
		err = failed
	}
	return resp, err
}

// newCall starts a call for a request that arrived now, with the client's
// envelope; the caller sets body (handler) or chat (in-process), and run
// makes its contexts (begin).
func (b *Bridge) newCall(parent context.Context, f clientFormat, rid string, env envelope) *call {
	c := &call{b: b, f: f, parent: parent, input: input{env: env}}
	now := b.clock.Now()
	c.rec = UsageRecord{ID: NewRecordID(now), Time: now, RequestID: rid, Format: f.name(), Model: env.model, Stream: env.stream}
	c.req = Request{ID: rid, Format: f.name(), Model: env.model, Stream: env.stream, c: c}
	return c
}

// begin makes the call's contexts, first thing in run: the caller's as
// the observers carry it (ContextObserver), then the upstream's, bounded
// by the maximum duration. The bound is a timer cancelling the one
// context with errMaxDuration as its cause (its Err is then Canceled),
// and its deadline shows through Deadline: WithTimeoutCause would have
// made a second context, and a map in the first to hold it.
func (c *call) begin() {
	c.parent = c.observeContext(c.parent)
	ctx, cancel := context.WithCancelCause(c.parent)
	d := c.b.cfg.timeouts.MaxDuration
	c.ctx, c.cancel = bounded{ctx, time.Now().Add(d)}, cancel
	c.stop = time.AfterFunc(d, func() { cancel(errMaxDuration) })
}

// end releases the call's contexts; the upstream request is cancelled if
// it is still running.
func (c *call) end() {
	c.release() // the router's counts (retry.go)
	c.stop.Stop()
	c.cancel(context.Canceled)
}

// request returns the canonical request, decoding the client's body the
// first time it is needed.
func (c *call) request() (*ChatRequest, *APIError) {
	if c.chat == nil && c.chatErr == nil && c.body != nil {
		if d, ok := c.f.(callDecoder); ok {
			c.chat, c.state, c.chatErr = d.decodeCall(c.body)
		} else {
			c.chat, c.chatErr = c.f.decode(c.body, c.b.log)
		}
	}
	if c.chat == nil && c.chatErr == nil {
		c.chatErr = errorf(http.StatusBadRequest, ErrorTypeInvalidRequest, "invalid_request", "request is nil")
	}
	return c.chat, c.chatErr
}

// newUpstreamRequest builds the request for target t: the client's bytes
// with only the model rewritten when t's provider speaks the client's
// format, otherwise the canonical request translated by the provider.
func (c *call) newUpstreamRequest(ctx context.Context, t target) (*http.Request, error) {
	if c.body != nil {
		if raw := c.f.passThrough(t.prov()); raw != nil {
			c.native = true
			return raw(ctx, c.body, t.model, c.env.stream, c.req.Header)
		}
	}
	c.native = false
	req, aerr := c.request()
	if aerr != nil {
		return nil, aerr
	}
	r := *req
	r.Model, r.Stream = t.model, c.env.stream
	if !r.Stream {
		r.StreamOptions = nil
	}
	return t.prov().NewRequest(ctx, &r)
}

// watchIdle makes resp.Body cancel the call after StreamIdle of silence.
func (c *call) watchIdle(resp *http.Response) {
	c.accepted = true
	d := c.b.cfg.timeouts.StreamIdle
	resp.Body = &idleBody{ReadCloser: resp.Body, d: d, timer: time.AfterFunc(d, func() { c.cancel(errIdleTimeout) })}
}

// relay hands the upstream's 2xx response to the output: unchanged bytes
// when the target speaks the client's format, otherwise the provider's
// decoded response or chunks, encoded by the output. It returns the
// failure the output held, unwritten, because another target may answer
// (mayFailOver); nil when the answer went out, or its failure did.
func (c *call) relay(out output, resp *http.Response) *APIError {
	p := c.target.prov()
	switch {
	case c.native:
		out.native(c, resp)
	case c.env.stream:
		enc := out.stream(c, resp)
		var err error
		for ch, e := range p.DecodeStream(resp) {
			if e != nil {
				err = e
				break
			}
			c.observe(ch)
			if err = enc.chunk(ch); err != nil {
				break
			}
		}
		enc.end(err)
	default:
		r, err := p.DecodeResponse(resp)
		if err != nil {
			out.fail(c, c.fail(err))
			return nil
		}
		c.usage = r.Usage
		if r.Usage == nil {
			for _, ch := range r.Choices {
				c.text = appendMessage(c.text, &ch.Message)
			}
			c.boundText()
		}
		out.response(c, r)
	}
	return out.held()
}

// fail converts err to the APIError to report, preferring the reason the
// call's own context ended (idle timeout, maximum duration), and notes it
// in the record.
func (c *call) fail(err error) *APIError {
	if c.parent.Err() == nil {
		if cause := context.Cause(c.ctx); cause != nil && (errors.Is(cause, errIdleTimeout) || errors.Is(cause, errMaxDuration)) {
			err = cause
		}
	}
	name := ""
	if c.target.up != nil {
		name = c.target.up.name
	}
	return c.note(c.b.asAPIError(c.parent, c.rec.RequestID, name, err))
}

// ownError turns an error from a pluggable stage into the APIError to
// report: an *APIError stands; anything else is a 500 whose cause is
// logged, never shown.
func (c *call) ownError(stage string, err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return c.note(ae)
	}
	c.b.log.Error(stage+" failed", "request_id", c.rec.RequestID, "error", err)
	return c.note(errorf(http.StatusInternalServerError, ErrorTypeServer, stage+"_failed", "the bridge's %s stage failed (request id %s)", stage, c.rec.RequestID))
}

// note records an error's status and message.
func (c *call) note(e *APIError) *APIError {
	c.rec.Error, c.rec.ErrorCode = e.Message, e.Code
	if e.Status == StatusClientClosedRequest {
		c.rec.Status = e.Status
	} else if c.first.IsZero() {
		c.rec.Status = e.StatusCode()
	}
	return e
}

// errStopped: the in-process caller stopped ranging over the stream.
var errStopped = errors.New("the caller stopped reading the stream")

// callerOutput answers an in-process caller: the response and error of
// ChatCompletion, or the pairs yielded by ChatCompletionStream.
type callerOutput struct {
	resp   *ChatResponse
	err    error
	yield  func(*ChatChunk, error) bool // set for streams
	failed *APIError                    // held for run: another target may answer (callerStream.end)
}

func (o *callerOutput) ticketHeaders(*call) {}

func (o *callerOutput) setHeader(string, string) {}

func (o *callerOutput) reset() { o.failed = nil }

func (o *callerOutput) held() *APIError { return o.failed }

// replay leaves every hit to be decoded: an in-process caller gets typed
// values, not wire bytes.
func (o *callerOutput) replay(*call, *codec.Entry) bool { return false }

func (o *callerOutput) fail(_ *call, e *APIError) {
	if o.yield != nil {
		o.yield(nil, e)
		return
	}
	o.err = e
}

func (o *callerOutput) response(c *call, r *ChatResponse) {
	c.observeFirstByte()
	o.resp = r
}

func (o *callerOutput) stream(c *call, _ *http.Response) streamEncoder {
	return &callerStream{c: c, o: o, yield: o.yield}
}

// native cannot happen in-process (there are no client bytes to pass
// through); it is answered as the bridge's own failure.
func (o *callerOutput) native(c *call, resp *http.Response) {
	resp.Body.Close()
	o.fail(c, c.ownError("relay", errors.New("pass-through relay without client bytes")))
}

// callerStream yields canonical chunks with the usage rules of openai.SplitUsage.
type callerStream struct {
	c     *call
	o     *callerOutput
	yield func(*ChatChunk, error) bool
}

func (s *callerStream) chunk(ch *ChatChunk) error {
	for _, out := range openai.SplitUsage(ch, s.c.env.includeUsage) {
		s.c.observeFirstByte()
		if !s.yield(out, nil) {
			return errStopped
		}
	}
	return nil
}

func (s *callerStream) end(err error) {
	switch {
	case err == nil:
	case errors.Is(err, errStopped):
		s.c.note(&APIError{Status: StatusClientClosedRequest, Message: errStopped.Error()})
	default:
		if e := s.c.fail(err); s.c.mayFailOver(e) {
			s.o.failed = e // nothing was yielded: run has the next target answer
		} else {
			s.yield(nil, e)
		}
	}
}
