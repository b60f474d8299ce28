package lifecycle

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// Requests is what a server keeps to drain cleanly: whether it is
// draining, the requests in flight, and the base context every request
// derives from (give Base to http.Server.BaseContext). Its methods are
// safe for concurrent use.
type Requests struct {
	draining atomic.Bool
	active   atomic.Int64
	base     context.Context
	stop     context.CancelCauseFunc
}

// NewRequests returns Requests with nothing in flight and not draining.
func NewRequests() *Requests {
	r := &Requests{}
	r.base, r.stop = context.WithCancelCause(context.Background())
	return r
}

// Base is the context every request derives from; Drain cancels it when
// the deadline passes.
func (r *Requests) Base() context.Context { return r.base }

// Track counts a request as in flight until done is called (once).
func (r *Requests) Track() (done func()) {
	r.active.Add(1)
	return func() { r.active.Add(-1) }
}

// Draining reports whether Drain has begun: readiness probes should
// answer 503 so that a load balancer stops sending new requests.
func (r *Requests) Draining() bool { return r.draining.Load() }

// Drain stops srv gracefully within timeout: Draining turns true at once
// and connections stop being kept alive; tracked requests get until the
// deadline to finish; then every one still running is ended through its
// normal path — the base context is cancelled with cause (the server
// passes llmbridge.ErrShuttingDown, so each client gets an error in its
// format and each request its usage record) — and Drain waits up to 5
// seconds more for those handlers before shutting srv down (closing it
// if that takes over a second). log reports what is still running.
func (r *Requests) Drain(srv *http.Server, timeout time.Duration, cause error, log *slog.Logger) error {
	r.draining.Store(true)
	srv.SetKeepAlivesEnabled(false)
	log.Info("shutting down: waiting for requests in flight", "requests", r.active.Load(), "timeout", timeout)
	deadline := time.Now().Add(timeout)
	for r.active.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := r.active.Load(); n > 0 {
		log.Warn("shutdown timeout: ending the requests still running with an error", "requests", n)
	}
	r.stop(cause) // also ends admin feeds and other long requests
	for wait := time.Now().Add(5 * time.Second); r.active.Load() > 0 && time.Now().Before(wait); {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return srv.Close()
	}
	return nil
}
