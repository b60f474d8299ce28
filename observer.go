package llmbridge

import (
	"errors"
	"fmt"
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
