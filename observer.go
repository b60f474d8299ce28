package llmbridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
)

// Observer is told about every request the Bridge serves, through the
// handler or in-process. End is called exactly once per request, with its
// finished UsageRecord: on success, upstream error, refusal by admission,
// client cancel and timeout alike, after the response is complete.
//
// An observer that also wants the earlier moments of a request implements
// StartObserver and/or FirstByteObserver; one that wants only End stays
// one method (ObserverFunc).
//
// Observers run on the request's goroutine, in the order they were added,
// and must not block: the request path never waits on slow I/O, so an
// observer that writes to a store, the network or a file hands the record
// to a queue of its own and returns (as the bundled usage writer and
// request log do). An observer that panics is recovered; the panic is
// logged with the request id and the request carries on. Observers must be
// safe for concurrent use; the record is theirs to keep.
type Observer interface {
	End(rec UsageRecord)
}

// StartObserver is implemented by observers that want to know when a
// request has been admitted and routed, before any upstream work. The
// record holds the request's identity so far: ID, Time, RequestID, KeyID,
// Format, Model, Stream and the first target's Provider and UpstreamModel.
// Start is called exactly for the requests whose End record names a
// Provider (those that were routed), so a gauge of requests in progress can
// pair the two.
type StartObserver interface {
	Start(rec UsageRecord)
}

// FirstByteObserver is implemented by observers that want to know when the
// first byte of the answer went to the client: the first stream event, or
// the body of a non-streamed response. TTFT is set in the record; Provider
// and UpstreamModel name the target that answered. It is not called for
// requests that fail before answering.
type FirstByteObserver interface {
	FirstByte(rec UsageRecord)
}

// ContextObserver is implemented by observers that carry something
// through a request's context, such as a trace span. Context is called
// once per request that gets a Start/End pair or an End (not for those
// refused before their caller was known, UsageRecord.Unauthenticated),
// first of all, before admission, with the caller's context (the HTTP
// request's, or the in-process caller's), the request (its Header is nil
// in-process; never log it) and the record so far (ID, Time, RequestID,
// Format, Model, Stream, Method, Path). The context it returns — ctx or
// one derived from it; nil keeps ctx — is the request's from then on:
// admitters, the router and every upstream attempt's request see it.
// End follows for the same record ID.
type ContextObserver interface {
	Context(ctx context.Context, r *Request, rec UsageRecord) context.Context
}

// AttemptObserver is implemented by observers that want each upstream
// attempt (retries and failovers included). Attempt is called just before
// req goes upstream, with the record so far, whose Provider,
// UpstreamModel and ProviderKey name the attempt's target and whose
// Retries is the attempt's number (0 for the first). It may add headers
// to req (a trace context); it must not read or replace req's body, and
// req's headers carry the provider's credential: never log them. The
// function it returns, if not nil, is called once when the attempt has
// its answer: the response (status and headers; its body is the relay's,
// though the function may wrap it in a reader that passes every byte
// through and closes the original on Close) or the round trip's error.
// A wrapper of a stream's body should also have an EndStream() bool
// method that passes the call on to the body it wraps and returns its
// answer: it is called, instead of Close, when the stream's last event
// was read (EndStreamBody), and the Bridge then reads the body's end
// after the call; a wrapper without it has the call wait for that end
// (at most 50 ms), as it is read and closed through the wrapper.
type AttemptObserver interface {
	Attempt(req *http.Request, rec UsageRecord) func(resp *http.Response, err error)
}

// ObserverFunc adapts a function to an Observer of End only.
type ObserverFunc func(UsageRecord)

// End calls f(rec).
func (f ObserverFunc) End(rec UsageRecord) { f(rec) }

// observers is a Bridge's observer list, split by ability once at New so
// the request path does no type assertions.
type observers struct {
	end     []Observer
	refused []Observer // End's for UsageRecord.Unauthenticated: no usage sinks
	start   []StartObserver
	first   []FirstByteObserver
	ctx     []ContextObserver
	attempt []AttemptObserver
}

func newObservers(list []Observer) observers {
	var o observers
	for _, x := range list {
		o.end = append(o.end, x)
		if _, sink := x.(usageSink); !sink {
			o.refused = append(o.refused, x)
		}
		if s, ok := x.(StartObserver); ok {
			o.start = append(o.start, s)
		}
		if f, ok := x.(FirstByteObserver); ok {
			o.first = append(o.first, f)
		}
		if cx, ok := x.(ContextObserver); ok {
			o.ctx = append(o.ctx, cx)
		}
		if a, ok := x.(AttemptObserver); ok {
			o.attempt = append(o.attempt, a)
		}
	}
	return o
}

// notify calls fn for every observer of one moment, recovering panics.
func notify[T any](c *call, list []T, fn func(T)) {
	for _, o := range list {
		c.safely(func() { fn(o) })
	}
}

// safely runs fn and logs a panic instead of letting it end the request.
func (c *call) safely(fn func()) { c.b.safely(c.rec.RequestID, fn) }

// safely runs fn for request rid and logs a panic instead of letting it
// end the request.
func (b *Bridge) safely(rid string, fn func()) {
	defer func() {
		if p := recover(); p != nil {
			b.log.Error("observer panicked", "request_id", rid, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// observeContext gives the ContextObservers the caller's context, in
// turn, and returns the one the request carries from then on.
func (c *call) observeContext(ctx context.Context) context.Context {
	for _, o := range c.b.obs.ctx {
		c.safely(func() {
			if x := o.Context(ctx, &c.req, c.rec); x != nil {
				ctx = x
			}
		})
	}
	return ctx
}

// observeAttempt tells the AttemptObservers of an attempt at t about to
// send req, and returns what to call with its answer (nil without any).
func (c *call) observeAttempt(req *http.Request, t target) func(*http.Response, error) {
	if len(c.b.obs.attempt) == 0 {
		return nil
	}
	rec := c.rec
	rec.Provider, rec.UpstreamModel, rec.ProviderKey = t.up.name, t.model, t.key.ID()
	var dones []func(*http.Response, error)
	notify(c, c.b.obs.attempt, func(o AttemptObserver) {
		if d := o.Attempt(req, rec); d != nil {
			dones = append(dones, d)
		}
	})
	return func(resp *http.Response, err error) {
		for _, d := range dones {
			c.safely(func() { d(resp, err) })
		}
	}
}

func (c *call) observeStart() {
	notify(c, c.b.obs.start, func(o StartObserver) { o.Start(c.rec) })
}

// observeFirstByte records the time to first byte and tells the observers,
// once per request.
func (c *call) observeFirstByte() {
	if !c.first.IsZero() {
		return
	}
	c.first = c.b.clock.Now()
	c.rec.TTFT = c.first.Sub(c.rec.Time)
	notify(c, c.b.obs.first, func(o FirstByteObserver) { o.FirstByte(c.rec) })
}

func (c *call) observeEnd() {
	list := c.b.obs.end
	if c.rec.Unauthenticated {
		list = c.b.obs.refused
	}
	notify(c, list, func(o Observer) { o.End(c.rec) })
}

// usageSink is the Observer of WithUsageSink: told of every request but
// the unauthenticated ones.
type usageSink func(UsageRecord)

// End calls s(rec).
func (s usageSink) End(rec UsageRecord) { s(rec) }

// WithUsageSink adds a function called with the usage record of every
// request, exactly once, after the response is complete (also after
// errors, refusals, cancels and timeouts) — except requests refused before
// their caller was known (UsageRecord.Unauthenticated), which are not
// usage: a client without a key must not be able to fill a store. It is an Observer of End only
// (ObserverFunc): it runs on the request's goroutine and must hand the
// record to a queue rather than do slow I/O.
func WithUsageSink(sink func(UsageRecord)) Option {
	return func(c *config) error {
		if sink == nil {
			return errors.New("WithUsageSink: nil sink")
		}
		c.observers = append(c.observers, usageSink(sink))
		return nil
	}
}

// WithObserver adds an Observer (see its contract). Observers are called in
// the order added.
func WithObserver(o Observer) Option {
	return func(c *config) error {
		if o == nil {
			return errors.New("WithObserver: nil observer")
		}
		c.observers = append(c.observers, o)
		return nil
	}
}
