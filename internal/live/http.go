package live

import (
	"bufio"
	"context"
	"net/http"
	"time"

	"github.com/llmbridge/llmbridge/internal/sse"
)

// ServeHTTP streams the feed to one subscriber as Server-Sent Events
// until the client goes away or falls behind. It does no access control:
// the server mounts it behind the admin key. The stream opens with a
// ": connected" comment, carries ": keep-alive" comments during silence,
// and a subscriber that fell behind gets a last "dropped" event before the
// response ends.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	sub := h.Subscribe()
	defer sub.Close()
	bw, send := h.open(w)
	if !send(func() error { return sse.WriteComment(bw, "connected") }) {
		return
	}
	tick := time.NewTicker(h.opts.KeepAlive)
	defer tick.Stop()
	gather := time.NewTimer(time.Hour)
	defer gather.Stop()
	var last time.Time // the last flush of events
	var spare []byte   // the buffer the hub gathers the next events in
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if !send(func() error { return sse.WriteComment(bw, "keep-alive") }) {
				return
			}
		case <-sub.Ready():
			// An event after a quiet spell goes out at once; while the
			// feed is busy, events are gathered and written at most once
			// per FlushInterval: a flush is a write system call for the
			// bridge and a wake-up for the dashboard.
			if !h.gather(r.Context(), sub, last, gather) {
				return
			}
			frames, n, ended := sub.Take(spare)
			if n > 0 {
				if !send(func() error { _, err := bw.Write(frames); return err }) {
					return
				}
				last = time.Now()
			}
			if spare = frames; cap(spare) > maxSpare {
				spare = nil // a burst's buffer is not kept
			}
			if ended {
				if sub.Dropped() {
					send(func() error {
						return sse.WriteEvent(bw, "dropped", []byte(`{"type":"dropped","message":"this subscriber fell behind the live feed and was dropped; reconnect"}`))
					})
				}
				return
			}
		}
	}
}

// gather lets the events after the one that woke sub gather until
// FlushInterval has passed since the last write (last), or half the
// buffer waits, or the subscription ended; false: ctx ended first.
func (h *Hub) gather(ctx context.Context, sub *Subscription, last time.Time, timer *time.Timer) bool {
	wait := h.opts.FlushInterval - time.Since(last)
	if wait <= 0 {
		return true
	}
	timer.Reset(wait)
	defer timer.Stop()
	for !sub.half(h.opts.Buffer) {
		select {
		case <-ctx.Done():
			return false
		case <-sub.Ready(): // half the buffer, the end, or a stale token
		case <-timer.C:
			return true
		}
	}
	return true
}

// maxSpare bounds the gathering buffer a subscriber keeps between two
// batches.
const maxSpare = 4 << 20

// open starts a subscriber's response and returns the buffer it is
// written through and send, which writes with write, hands the buffer to
// w and flushes w, within the write timeout: a batch of events, or a
// comment, leaves in one write system call (a batch over the buffer's
// size goes to w straight).
func (h *Hub) open(w http.ResponseWriter) (*bufio.Writer, func(write func() error) bool) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, batchBuffer)
	return bw, func(write func() error) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout)) // not every writer has deadlines
		return write() == nil && bw.Flush() == nil && rc.Flush() == nil
	}
}

// batchBuffer is the size of a subscriber's write buffer.
const batchBuffer = 64 << 10
