package endpoint

import (
	"context"
	"io"
	"time"
)

// Link is the context of an upstream stream's request, linked to its
// call's rather than derived from it: it ends with the call (its cause
// too) until the stream has reached its last event, and may then outlive
// the call for as long as the body's end takes to arrive (Body). The
// call's values and deadline show through.
type Link struct {
	cancel context.CancelCauseFunc
	unlink func() bool // stops the call's end from cancelling the request
}

// NewLink returns the request's context, linked to call.
func NewLink(call context.Context) (context.Context, *Link) {
	ctx, cancel := context.WithCancelCause(linked{context.WithoutCancel(call), call})
	return ctx, &Link{cancel: cancel, unlink: context.AfterFunc(call, func() { cancel(context.Cause(call)) })}
}

// Cancel ends the request now with cause (a failed attempt, a timeout).
func (l *Link) Cancel(cause error) {
	l.unlink()
	l.cancel(cause)
}

// Body wraps the request's response body, beneath every other wrapper:
// its EndStream (EndBody, through the wrappers' PassEnd) unlinks the
// request from the call and reads the rest of the body on another
// goroutine (FinishBody), then closes it and ends the request — at once,
// with no goroutine, when the body was read to its end already (AtEOF). Nothing
// waits for the upstream's end of the body — neither the client's last
// event, nor the call's record and settlement — and the connection goes
// back to the pool. A body closed instead ends the request with the
// call.
func (l *Link) Body(body io.ReadCloser) io.ReadCloser { return &linkedBody{body, l} }

// linked is WithoutCancel's context with the call's deadline, for
// whoever reads it (a provider fitting a token fetch into it, an
// observer).
type linked struct {
	context.Context // context.WithoutCancel of call
	call            context.Context
}

func (l linked) Deadline() (time.Time, bool) { return l.call.Deadline() }

type linkedBody struct {
	io.ReadCloser
	l *Link
}

func (b *linkedBody) EndStream() bool {
	if !b.l.unlink() {
		return false // the call ended: the request is cancelled already
	}
	if AtEOF(b.ReadCloser) {
		// Read to its end with the last event: nothing left to wait for,
		// so no goroutine (and no FinishBody timer) for it.
		b.ReadCloser.Close()
		b.l.cancel(nil)
		return true
	}
	go func() {
		FinishBody(b.ReadCloser)
		b.l.cancel(nil)
	}()
	return true
}

// PassEnd is a body wrapper's EndStream: it passes the call on to the
// body rc it wraps, and reports its answer (false when rc is no Ender).
func PassEnd(rc io.ReadCloser) bool {
	e, ok := rc.(Ender)
	return ok && e.EndStream()
}
