package llmbridge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/ownstack"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/sse"
	"github.com/llmbridge/llmbridge/internal/upconn"
)

var (
	errIdleTimeout = errors.New("upstream stream idle timeout")
	errMaxDuration = errors.New("upstream request exceeded its maximum duration")
	// errHeaderTimeout: an attempt got no response headers in time.
	errHeaderTimeout = errors.New("upstream sent no response headers in time")
	// errReported: the upstream's own error event was relayed; end quietly.
	errReported = errors.New("upstream error event relayed")
	// errStreamClosed: a write to a stream whose handler has returned.
	errStreamClosed = errors.New("write to a closed stream")
)

// bounded is a context with a deadline that something else enforces (the
// call's maximum duration: call.begin).
type bounded struct {
	context.Context
	deadline time.Time
}

func (b bounded) Deadline() (time.Time, bool) { return b.deadline, true }

// ErrTruncated is the error (or the cause of the *APIError) that ends a
// stream whose upstream closed it before its normal end: before "data:
// [DONE]", message_stop or a finish reason. Test for it with errors.Is.
var ErrTruncated = openai.ErrTruncated

// idleBody cancels its call when no byte arrives for d. Every read that
// returns data restarts the timer.
type idleBody struct {
	io.ReadCloser
	timer *time.Timer
	d     time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.d)
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	return b.ReadCloser.Close()
}

// EndStream: the stream is over, its silence no longer matters.
func (b *idleBody) EndStream() bool {
	b.timer.Stop()
	return endpoint.PassEnd(b.ReadCloser)
}

// streamWriter writes SSE to the client. It commits the 200 and the
// event-stream headers only with the first event or keep-alive, so a stream
// that fails before any of those still gets a proper error status. During
// silence it sends ": keep-alive" comments from a timer; the mutex keeps the
// timer's writes apart from the relay's, and close stops both before the
// handler returns.
type streamWriter struct {
	w       http.ResponseWriter
	out     *ownstack.Writer // w's body, written and flushed
	f       clientFormat     // for errors in the client's shape
	every   time.Duration
	timer   *time.Timer
	onFirst func() // called once, outside the lock, after the first event
	wd      *writeDeadline

	mu      sync.Mutex
	started bool
	closed  bool
	pending bool          // events written but not flushed
	ended   bool          // the last event is written (end): the timer only flushes it
	sent    bool          // an event went out
	held    *APIError     // a failure not written because another target may answer (fail)
	last    time.Duration // last write (wd.since), for the keep-alive timer
}

func newStreamWriter(w http.ResponseWriter, f clientFormat, every, writeTimeout time.Duration, onFirst func()) *streamWriter {
	rc := http.NewResponseController(w)
	s := &streamWriter{w: w, out: ownstack.NewWriter(w, rc), f: f, every: every, onFirst: onFirst, wd: newWriteDeadline(rc, writeTimeout)}
	// tick takes the lock first, so it cannot see s.timer unset.
	s.mu.Lock()
	s.timer = time.AfterFunc(every, s.tick)
	s.mu.Unlock()
	return s
}

func (s *streamWriter) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.ended {
		if s.pending {
			_ = s.flushLocked()
		}
		return
	}
	if idle := s.wd.since() - s.last; idle < s.every {
		s.timer.Reset(s.every - idle)
		return
	}
	s.startLocked()
	s.wd.renew(s.wd.since())
	var err error
	if name, data, ok := s.f.keepAlive(); ok {
		err = sse.WriteEvent(s.out, name, data)
	} else {
		err = sse.WriteComment(s.out, "keep-alive")
	}
	if err == nil {
		_ = s.flushLocked()
	}
	s.last = s.wd.since()
	s.timer.Reset(s.every)
}

func (s *streamWriter) startLocked() {
	if s.started {
		return
	}
	s.started = true
	// One array for the three values, each header a full-capacity slice
	// of it (an append copies): one allocation, not three.
	vals := []string{"text/event-stream; charset=utf-8", "no-cache", "no"}
	h := s.w.Header()
	h["Content-Type"] = vals[0:1:1]
	h["Cache-Control"] = vals[1:2:2]
	h["X-Accel-Buffering"] = vals[2:3:3] // nginx: do not buffer
	s.w.WriteHeader(http.StatusOK)
}

// data writes one data-only event (see event).
func (s *streamWriter) data(p []byte) error { return s.event("", p) }

// event writes one event, with an "event:" line when name is set. It is
// flushed before the relay next waits for the upstream (see flushingBody),
// so an event never waits in a buffer while the bridge waits, yet events
// that arrived together go out in one write.
func (s *streamWriter) event(name string, p []byte) error {
	s.mu.Lock()
	if s.closed { // the handler returned: nothing may be written now
		s.mu.Unlock()
		return clientError(errStreamClosed)
	}
	s.startLocked()
	first := !s.sent
	s.sent = true
	s.last = s.wd.since()
	s.pending = true
	s.wd.renew(s.last)
	err := clientError(sse.WriteEvent(s.out, name, p))
	s.mu.Unlock()
	if first && s.onFirst != nil {
		s.onFirst()
	}
	return err
}

// flush sends events written so far.
func (s *streamWriter) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.pending {
		return nil
	}
	return s.flushLocked()
}

// flushOpen is flush for a caller that may come after close (a
// connection's read, on whichever goroutine made it): it does nothing
// once the stream is closed, as the handler may have returned.
func (s *streamWriter) flushOpen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.pending {
		return nil
	}
	return s.flushLocked()
}

func (s *streamWriter) flushLocked() error {
	s.pending = false
	if err := s.out.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return clientError(err)
	}
	return nil
}

// writeDeadline keeps a write deadline on the client's connection, renewed
// as writes succeed: a client that stops reading fails the next write or
// flush once the deadline passes. Renewals are at most a quarter of the
// timeout (and a second) apart, so the hot path pays for one in many
// events and a client is cut between 3/4 and all of the timeout after its
// last successful read.
//
// Times are offsets from the writer's start (since): time.Since reads the
// monotonic clock only, time.Now the wall clock too — twice the cost, on
// every event of a stream.
type writeDeadline struct {
	rc    *http.ResponseController
	d     time.Duration
	start time.Time
	last  time.Duration // offset of the last renewal; -1 before the first
}

func newWriteDeadline(rc *http.ResponseController, d time.Duration) *writeDeadline {
	return &writeDeadline{rc: rc, d: d, start: time.Now(), last: -1}
}

// since is the time since w was made.
func (w *writeDeadline) since() time.Duration { return time.Since(w.start) }

// renew renews the deadline at now (since) unless it was renewed lately.
func (w *writeDeadline) renew(now time.Duration) {
	if w.d <= 0 || w.last >= 0 && now-w.last < min(time.Second, w.d/4) {
		return
	}
	w.last = now
	_ = w.rc.SetWriteDeadline(w.start.Add(now + w.d)) // ErrNotSupported: no deadline to keep
}

// clientWriteError is a failed write to the client: it stopped reading
// (write timeout) or went away. It is the client's doing, never the
// upstream's.
type clientWriteError struct{ err error }

func (e *clientWriteError) Error() string { return "writing to the client: " + e.err.Error() }
func (e *clientWriteError) Unwrap() error { return e.err }

func clientError(err error) error {
	if err == nil {
		return nil
	}
	return &clientWriteError{err}
}

// flushingBody flushes the client stream before every read of the upstream
// body: a read is where the relay may block, so nothing relayed is held
// back while it waits. A failed flush (client gone) ends the read.
type flushingBody struct {
	io.ReadCloser
	sw *streamWriter
}

func (b *flushingBody) Read(p []byte) (int, error) {
	if err := b.sw.flush(); err != nil {
		return 0, err
	}
	return b.ReadCloser.Read(p)
}

// EndStream hands the upstream body beneath to its owner (endpoint.Link).
func (b *flushingBody) EndStream() bool { return endpoint.PassEnd(b.ReadCloser) }

// relayBody wraps resp's body so that the events relayed from it reach
// the client before the relay waits for the upstream: flushed when a read
// of the connection would wait (upconn.NewBody) where the connection says
// so, before every read of the body otherwise. The reads of a burst that
// the transport's buffer or the socket answer at once then flush
// nothing, so events that arrived together go out together, in the
// writes net/http's 4 KiB buffer makes (bridgebench: 12 → 10 read and
// write system calls a stream).
func (o *httpOutput) relayBody(resp *http.Response) io.ReadCloser {
	if conn := upconn.Of(resp); conn != nil {
		return upconn.NewBody(resp.Body, conn, o.sw.flushOpen)
	}
	return &flushingBody{ReadCloser: resp.Body, sw: o.sw}
}

// closeRelayed closes the upstream body of a stream relayed as it came:
// it is read to its end (endpoint.EndBody, endpoint.Link), which keeps the
// upstream connection, when the relay reached the stream's last event or
// the upstream's error event, which ends a stream too; it is closed at
// once when the relay stopped before (the client gone, a failover, a
// fault).
func closeRelayed(body io.ReadCloser, err error) {
	if err != nil && err != errReported {
		body.Close()
		return
	}
	endpoint.EndBody(body)
}

// The bodies a stream's end passes through, beneath the relay or decoder.
var (
	_ endpoint.Ender = (*flushingBody)(nil)
	_ endpoint.Ender = (*idleBody)(nil)
	_ endpoint.Ender = (*captureBody)(nil)
)

// fail ends the stream with e: as a plain error response in the client's
// format when nothing was sent yet, otherwise as one error event (and, for
// chat, no [DONE]). When nothing was sent and another target may answer
// it writes nothing, holds e for run and reports true.
func (s *streamWriter) fail(c *call, e *APIError) (held bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if !s.started && c.mayFailOver(e) {
		s.held = e // nothing was written: run has the next target answer
		return true
	}
	// Every write renews the deadline first: the one set at the last write
	// may have passed while the upstream was silent, and a deadline must
	// cut only a client that stopped reading.
	s.wd.renew(s.wd.since())
	if !s.started {
		s.started = true
		s.f.writeError(s.w, e)
		return false
	}
	name, data := s.f.errorEvent(e)
	if sse.WriteEvent(s.out, name, data) == nil {
		_ = s.flushLocked()
	}
	return false
}

// close stops the keep-alive timer and hands net/http what was written
// and not flushed (the last event: end); nothing is written after it
// returns.
func (s *streamWriter) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed, s.pending = true, false
		s.timer.Stop()
		_ = s.out.Close()
	}
	s.mu.Unlock()
}

// committed reports whether the status line has gone out.
func (s *streamWriter) committed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// endFlush bounds how long a stream's last event may wait for the
// response's end (see end).
const endFlush = time.Millisecond

// end writes the stream's last event without flushing it. The call's
// closing work — its record, the cache's store, the limits' settlement —
// runs before the handler returns, and net/http then writes the event
// and the response's end together: one write system call fewer per
// stream (bridgebench: 12.4 → 11.4 per stream). Should that work take
// longer than endFlush (a cache or limiter across the network), the
// timer flushes the event then, so the client's end of stream never
// waits on it longer.
//
// The price: a client that goes away while its last event waits is not
// noticed — the answer was complete upstream and the record says so (a
// failed last flush used to record 499), and a client that stopped
// reading exactly then is cut by net/http's write deadline after the
// handler returns rather than by the relay. Either way the client has
// every event but the last.
func (s *streamWriter) end(name string, p []byte) error {
	if err := s.event(name, p); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	if !s.closed {
		s.timer.Reset(endFlush)
	}
	return nil
}
