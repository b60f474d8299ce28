// Package ownstack writes an HTTP response body so that the one call
// which makes net/http write the response's header runs on a goroutine of
// its own, whose stack goes when it returns, and so that net/http is
// handed the body once a flush rather than once an event.
//
// net/http's chunkWriter.writeHeader wants ~4.4 KiB of stack below its
// caller. A stream relay makes that call from deep down — inside its read
// of the upstream body, 6 KiB below the handler's top — so made in place
// it doubles the handler goroutine's 8 KiB stack, and the stack stays
// doubled for the rest of the stream: 8 KiB more for each open stream,
// 8 MiB for a thousand. The call that writes the header is the first
// flush, or a write past the 2 KiB net/http holds before it
// (bufferBeforeChunkingSize); the writes and flushes after it fit.
//
// A relay writes an event as three small writes (its "data: " prefix,
// the payload, the blank line), and each write to a ResponseWriter pays
// for net/http's checks and locks: 69 calls for a 23-event stream.
// Writer gathers them in a pooled buffer instead and hands them to
// net/http in one write when it flushes (or when 4 KiB are gathered); an
// idle stream holds no buffer.
package ownstack

import (
	"errors"
	"net/http"
	"sync"
)

// Writer writes a response body (Write) and sends what is written
// (Flush), the call that writes the header on a goroutine of its own
// (Run). Its user serializes its calls, as it would the ResponseWriter's,
// and calls Close before its handler returns.
type Writer struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	held   int     // bytes written while the header is not
	headed bool    // the header is written
	buf    *[]byte // bytes not yet handed to w, from bufs; nil when none
}

// NewWriter returns a Writer of w's body; rc is w's controller.
func NewWriter(w http.ResponseWriter, rc *http.ResponseController) *Writer {
	return &Writer{w: w, rc: rc}
}

// headerAfter is how much net/http's response holds before its first
// write to the connection, which writes the header.
const headerAfter = 2048

// passAt is what Write gathers before it hands the bytes to net/http
// without a flush: its connection buffer's size, so a long burst still
// leaves in full writes and the buffer stays small.
const passAt = 4 << 10

// bufs are the buffers of streams between two flushes.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, passAt); return &b }}

// Write adds p to the body. It fails only with the error of handing
// bytes to net/http; otherwise a failed write shows at Flush.
func (h *Writer) Write(p []byte) (int, error) {
	if len(p) >= passAt { // a large write goes as it is, after what was gathered
		if err := h.pass(); err != nil {
			return 0, err
		}
		return len(p), h.write(p)
	}
	if h.buf == nil {
		h.buf = bufs.Get().(*[]byte)
	}
	*h.buf = append(*h.buf, p...)
	if len(*h.buf) >= passAt {
		return len(p), h.pass()
	}
	return len(p), nil
}

// pass hands the gathered bytes to net/http.
func (h *Writer) pass() error {
	if h.buf == nil || len(*h.buf) == 0 {
		return nil
	}
	p := *h.buf
	*h.buf = p[:0]
	return h.write(p)
}

// write writes p to w, on a goroutine of its own when it writes the
// header.
func (h *Writer) write(p []byte) error {
	if h.headed || h.held+len(p) <= headerAfter {
		h.held += len(p)
		_, err := h.w.Write(p)
		return err
	}
	h.headed = true
	return Run(func() error {
		_, err := h.w.Write(p)
		return err
	})
}

// release puts the buffer back for another stream (its length stays
// under twice passAt — Write passes what it gathers at passAt, and larger
// writes bypass it — so its capacity stays bounded too).
func (h *Writer) release() {
	if h.buf != nil {
		*h.buf = (*h.buf)[:0]
		bufs.Put(h.buf)
		h.buf = nil
	}
}

// Flush sends what is written (http.ResponseController.Flush).
func (h *Writer) Flush() error {
	err := h.pass()
	h.release()
	if err != nil {
		return err
	}
	if h.headed {
		return h.rc.Flush()
	}
	h.headed = true
	return Run(h.rc.Flush)
}

// Close hands net/http what is written and not flushed, which it sends
// when the handler returns; the Writer may not be used after.
func (h *Writer) Close() error {
	err := h.pass()
	h.release()
	return err
}

// Run runs f on a goroutine of its own and waits for it (about a
// microsecond). A panic in f is Run's caller's, as is f's ending its
// goroutine (runtime.Goexit, which net/http's writers never do): the
// caller then panics with ErrGoexit rather than wait forever.
func Run(f func() error) error {
	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		returned := false
		defer func() {
			if !returned {
				p := recover()
				if p == nil {
					p = ErrGoexit
				}
				done <- result{panic: p}
			}
		}()
		err := f()
		returned = true
		done <- result{err: err}
	}()
	r := <-done
	if r.panic != nil {
		panic(r.panic)
	}
	return r.err
}

// ErrGoexit is what Run's caller panics with when f ended its goroutine.
var ErrGoexit = errors.New("ownstack: the call ended its goroutine")
