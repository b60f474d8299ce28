package endpoint

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"
)

// blockingBody's Read waits for the test's release, whatever closes it;
// it counts closes.
type blockingBody struct {
	release chan struct{}
	mu      sync.Mutex
	closes  int
}

func (b *blockingBody) Read([]byte) (int, error) {
	<-b.release
	return 0, io.EOF
}

func (b *blockingBody) Close() error {
	b.mu.Lock()
	b.closes++
	b.mu.Unlock()
	return nil
}

// EndStream hands the body's end to another goroutine and returns: the
// call, its settlement and its client's last event never wait for the
// upstream's end. The body is closed once, and the attempt's request
// ended, when that end has been read.
func TestLinkEndStreamDoesNotWait(t *testing.T) {
	call, stop := context.WithCancel(context.Background())
	defer stop()
	ctx, link := NewLink(call)
	body := &blockingBody{release: make(chan struct{})}
	u := link.Body(body).(Ender)
	returned := make(chan bool)
	go func() { returned <- u.EndStream() }()
	select {
	case took := <-returned:
		if !took {
			t.Fatal("EndStream did not take the body over")
		}
	case <-time.After(5 * time.Second): // the body's end comes only when the test releases it
		t.Fatal("EndStream waited for the body's end")
	}
	stop() // the call ends: the request lives on until its end is read
	if ctx.Err() != nil {
		t.Fatal("the call's end cancelled the request whose end is being read")
	}
	close(body.release)
	<-ctx.Done() // the drain cancels the request once it closed the body
	body.mu.Lock()
	defer body.mu.Unlock()
	if body.closes != 1 || ctx.Err() == nil {
		t.Errorf("after the drain: %d closes, request context %v", body.closes, ctx.Err())
	}
}

// A streamed attempt's context has the call's deadline, though not its
// cancellation (which attempt links).
func TestLinkDeadline(t *testing.T) {
	call, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	want, _ := call.Deadline()
	ctx, link := NewLink(call)
	defer link.Cancel(nil)
	if got, ok := ctx.Deadline(); !ok || !got.Equal(want) {
		t.Errorf("deadline %v %v, want %v", got, ok, want)
	}
}

// Until EndStream, the request ends with its call, with the call's cause.
func TestLinkEndsWithCall(t *testing.T) {
	call, cancel := context.WithCancelCause(context.Background())
	ctx, _ := NewLink(call)
	why := errors.New("the client went away")
	cancel(why)
	<-ctx.Done()
	if context.Cause(ctx) != why {
		t.Errorf("cause %v, want the call's", context.Cause(ctx))
	}
}

// eofBody is a body that has returned its end: Read fails the test, since
// nothing is left to read; it counts closes.
type eofBody struct {
	t      *testing.T
	closes int
}

func (b *eofBody) Read([]byte) (int, error) {
	b.t.Error("a body at its end was read again")
	return 0, io.EOF
}

func (b *eofBody) Close() error { b.closes++; return nil }
func (b *eofBody) AtEOF() bool  { return true }

// A body read to its end already is closed, and its request ended, before
// EndStream returns: no goroutine, no read, no wait.
func TestLinkEndStreamAtEOF(t *testing.T) {
	call, stop := context.WithCancel(context.Background())
	defer stop()
	ctx, link := NewLink(call)
	body := &eofBody{t: t}
	if !link.Body(body).(Ender).EndStream() {
		t.Fatal("EndStream did not take the body over")
	}
	if body.closes != 1 || ctx.Err() == nil {
		t.Errorf("when EndStream returned: %d closes, request context %v", body.closes, ctx.Err())
	}
}

// FinishBody closes a body at its end without reading it.
func TestFinishBodyAtEOF(t *testing.T) {
	body := &eofBody{t: t}
	FinishBody(body)
	if body.closes != 1 {
		t.Errorf("%d closes, want 1", body.closes)
	}
}
