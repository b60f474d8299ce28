package lifecycle

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// A console that is not a terminal (journald, a container runtime, a
// file) is written in batches: at one line a request, a write each cost
// the server a system call and its reader a wake-up, a tenth of a plain
// request's own work. A line waits at most consoleDelay; a warning or an
// error goes at once, with every line before it, and so does a batch of
// consoleBatch bytes. Only the lines of the last consoleDelay can be lost
// if the process is killed; the flush NewLogger returns writes what
// waits on a clean exit.
const (
	consoleDelay = 50 * time.Millisecond
	consoleBatch = 32 << 10
)

// batchWriter holds what is written to w until Flush, which a timer
// calls delay after the first byte waiting. It is safe for
// concurrent use; w's errors are dropped (a console has no one to tell).
type batchWriter struct {
	mu    sync.Mutex
	w     io.Writer
	delay time.Duration // consoleDelay but in tests
	buf   []byte
	timer *time.Timer // armed while buf holds anything
}

// newBatchWriter returns a batchWriter of w whose lines wait at most delay.
func newBatchWriter(w io.Writer, delay time.Duration) *batchWriter {
	b := &batchWriter{w: w, delay: delay}
	b.timer = time.AfterFunc(time.Hour, b.Flush)
	b.timer.Stop()
	return b
}

// Write keeps p for the next flush; a batch that would pass consoleBatch
// is written first.
func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) > 0 && len(b.buf)+len(p) > consoleBatch {
		b.flushLocked()
	}
	if len(b.buf) == 0 {
		b.timer.Reset(b.delay)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes what waits.
func (b *batchWriter) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *batchWriter) flushLocked() {
	if len(b.buf) == 0 {
		return
	}
	b.timer.Stop()
	_, _ = b.w.Write(b.buf)
	if cap(b.buf) > 2*consoleBatch {
		b.buf = nil // one burst's batch is not kept for good
	} else {
		b.buf = b.buf[:0]
	}
}

// urgentFlush is a handler that writes a record at slog.LevelWarn or
// above, and every line before it, at once.
type urgentFlush struct {
	slog.Handler
	b *batchWriter
}

// Handle writes r, and flushes the batch when r is a warning or worse.
func (h urgentFlush) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		h.b.Flush()
	}
	return err
}

// WithAttrs keeps the flush on the handler with attributes.
func (h urgentFlush) WithAttrs(as []slog.Attr) slog.Handler {
	return urgentFlush{h.Handler.WithAttrs(as), h.b}
}

// WithGroup keeps the flush on the handler with a group.
func (h urgentFlush) WithGroup(name string) slog.Handler {
	return urgentFlush{h.Handler.WithGroup(name), h.b}
}
