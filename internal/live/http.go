package live

import (
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
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(write func() error) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout)) // not every writer has deadlines
		return write() == nil && rc.Flush() == nil
	}
	if !send(func() error { return sse.WriteComment(w, "connected") }) {
		return
	}
	tick := time.NewTicker(h.opts.KeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if !send(func() error { return sse.WriteComment(w, "keep-alive") }) {
				return
			}
		case ev, ok := <-sub.C:
			if !ok {
				if sub.Dropped() {
					send(func() error {
						return sse.WriteEvent(w, "dropped", []byte(`{"type":"dropped","message":"this subscriber fell behind the live feed and was dropped; reconnect"}`))
					})
				}
				return
			}
			if !send(func() error { return writeBatch(w, ev, sub.C) }) {
				return
			}
		}
	}
}

// maxBatch bounds the events written between two flushes.
const maxBatch = 256

// writeBatch writes ev and the events already waiting behind it (up to
// maxBatch), so that a busy gateway's feed costs one flush — one write
// system call — per batch rather than per event, and the subscriber keeps
// up. A closed channel is left for the caller's next receive.
func writeBatch(w http.ResponseWriter, ev Event, c <-chan Event) error {
	if err := sse.WriteEvent(w, ev.Name, ev.Data); err != nil {
		return err
	}
	for range maxBatch - 1 {
		select {
		case next, ok := <-c:
			if !ok {
				return nil
			}
			if err := sse.WriteEvent(w, next.Name, next.Data); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}
