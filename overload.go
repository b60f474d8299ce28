package llmbridge

import (
	"net/http"
	"sync/atomic"
)

// ErrShuttingDown is the cause to cancel a server's base context with
// (context.WithCancelCause) when a graceful shutdown runs out of time:
// every request still running then ends through its normal path — an
// error in the client's format (503 server_shutting_down, or an error
// event in a started stream) and its usage record — instead of being cut.
var ErrShuttingDown = errShuttingDown{}

type errShuttingDown struct{}

func (errShuttingDown) Error() string { return "llmbridge: the server is shutting down" }

// Stats are a Bridge's counters since New.
type Stats struct {
	// Active is the number of model calls in progress.
	Active int64
	// Overloaded counts model calls refused with 503 server_overloaded
	// because WithMaxConcurrent calls were already in progress.
	Overloaded uint64
}

// Stats returns the Bridge's counters. It is safe for concurrent use.
func (b *Bridge) Stats() Stats {
	return Stats{Active: b.gate.active.Load(), Overloaded: b.gate.refused.Load()}
}

// gate bounds the model calls in progress (WithMaxConcurrent): above the
// bound a call is refused at once, before its body is read, instead of
// queueing behind the others.
type gate struct {
	max     int64 // 0: no bound
	active  atomic.Int64
	refused atomic.Uint64
}

// enter admits one call, or counts a refusal and reports false.
func (g *gate) enter() bool {
	if n := g.active.Add(1); g.max > 0 && n > g.max {
		g.active.Add(-1)
		g.refused.Add(1)
		return false
	}
	return true
}

func (g *gate) leave() { g.active.Add(-1) }

func errOverloaded() *APIError {
	return &APIError{Status: http.StatusServiceUnavailable, Type: ErrorTypeServer, Code: "server_overloaded", RetryAfter: "1",
		Message: "The bridge is serving as many requests as it is configured for; retry in a moment."}
}
