// Package ownstack writes an HTTP response body so that the one call
// which makes net/http write the response's header runs on a goroutine of
// its own, whose stack goes when it returns.
//
// net/http's chunkWriter.writeHeader wants ~4.4 KiB of stack below its
// caller. A stream relay makes that call from deep down — inside its read
// of the upstream body, 6 KiB below the handler's top — so made in place
// it doubles the handler goroutine's 8 KiB stack, and the stack stays
// doubled for the rest of the stream: 8 KiB more for each open stream,
// 8 MiB for a thousand. The call that writes the header is the first
// flush, or a write past the 2 KiB net/http holds before it
// (bufferBeforeChunkingSize); the writes and flushes after it fit.
package ownstack

import (
	"errors"
	"net/http"
)

// Writer writes a response body (Write) and sends what is written
// (Flush), the call that writes the header on a goroutine of its own
// (Run). Its user serializes its calls, as it would the ResponseWriter's.
type Writer struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	held   int  // bytes written while the header is not
	headed bool // the header is written
}

// NewWriter returns a Writer of w's body; rc is w's controller.
func NewWriter(w http.ResponseWriter, rc *http.ResponseController) *Writer {
	return &Writer{w: w, rc: rc}
}

// headerAfter is how much net/http's response holds before its first
// write to the connection, which writes the header.
const headerAfter = 2048

// Write writes p to the body.
func (h *Writer) Write(p []byte) (int, error) {
	if h.headed || h.held+len(p) <= headerAfter {
		h.held += len(p)
		return h.w.Write(p)
	}
	h.headed = true
	var n int
	err := Run(func() (err error) {
		n, err = h.w.Write(p)
		return err
	})
	return n, err
}

// Flush sends what is written (http.ResponseController.Flush).
func (h *Writer) Flush() error {
	if h.headed {
		return h.rc.Flush()
	}
	h.headed = true
	return Run(h.rc.Flush)
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
