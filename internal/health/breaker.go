package health

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Breaker is one target's circuit breaker and statistics. Closed, it lets
// every attempt through; Failures breaking failures in a row open it
// (eject the target) for BaseEjection times the number of ejections so
// far, at most MaxEjection; after that one attempt, the half-open probe,
// may go: its success closes the breaker, its breaking failure opens it
// again. Get one from Set.Get; its methods are safe for concurrent use.
//
// An attempt is: Begin (false: skip the target), Acquire, the upstream
// round trip, then exactly one verdict — Success (2xx), Failure, Neutral
// (a client error: the upstream is alive) or Abandon (nothing learnt) —
// and Release when the request no longer uses the target (at once after
// a failed attempt, at the end of the answer after a success).
type Breaker struct {
	t        target
	set      *Set
	inflight atomic.Int64
	p50      atomic.Int64 // median of lat, for balancers without the lock

	mu        sync.Mutex
	state     string // "" is closed
	fails     int    // consecutive
	ejections int
	until     time.Time // end of the ejection
	probing   bool      // the half-open probe is out
	lastErr   string
	lastErrAt time.Time
	buckets   [300]bucket // one per second, 5 minutes
	lat       [64]time.Duration
	latN      int
	check     checkState // the active health check's last verdict (check.go)
}

type bucket struct {
	sec       int64
	req, errs int32
}

// name is "provider/model (key id)" for the log.
func (h *Breaker) name() string {
	s := h.t.key.provider + "/" + h.t.model
	if h.t.key.id != "" {
		s += " (" + h.t.key.id + ")"
	}
	return s
}

// Acquire counts a request in flight on the target (Load, Status.InFlight).
func (h *Breaker) Acquire() { h.inflight.Add(1) }

// Release undoes Acquire.
func (h *Breaker) Release() { h.inflight.Add(-1) }

// Available reports whether the target may be tried at now, and if not,
// when it may: at the end of its ejection, or (its half-open probe being
// out) in a second.
func (h *Breaker) Available(now time.Time) (bool, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.state == Open && now.Before(h.until):
		return false, h.until
	case h.state == HalfOpen && h.probing:
		return false, now.Add(time.Second)
	}
	return true, time.Time{}
}

// Begin claims an attempt at now: false when the target is ejected or
// another request holds its half-open probe. An ejection that has ended
// half-opens the breaker and makes this attempt its probe.
func (h *Breaker) Begin(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.state {
	case Open:
		if now.Before(h.until) {
			return false
		}
		h.state, h.probing = HalfOpen, true
		h.set.log.Info("target half-open: probing", "target", h.name(), "ejections", h.ejections)
	case HalfOpen:
		if h.probing {
			return false
		}
		h.probing = true
	}
	return true
}

// count adds a request, failed or not, to the second of now. h.mu is held.
func (h *Breaker) count(now time.Time, failed bool) {
	sec := now.Unix()
	b := &h.buckets[sec%int64(len(h.buckets))]
	if b.sec != sec {
		*b = bucket{sec: sec}
	}
	b.req++
	if failed {
		b.errs++
	}
}

// Success records a 2xx answer after latency (the time to its headers)
// and closes the breaker if it was the probe. The consecutive failures
// are kept until Clean: a stream that breaks after its 2xx still counts.
func (h *Breaker) Success(now time.Time, latency time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.count(now, false)
	if h.state != "" {
		h.fails = 0
		h.set.log.Info("target closed: probe succeeded", "target", h.name())
		h.state, h.probing = "", false
	}
	h.lat[h.latN%len(h.lat)] = latency
	h.latN++
	if h.latN > len(h.lat) && h.latN%medianEvery != 0 {
		return
	}
	n := min(h.latN, len(h.lat))
	s := h.lat // a copy, on the stack
	slices.Sort(s[:n])
	h.p50.Store(int64(s[n/2]))
}

// medianEvery is how often, in successes, a full window's median is
// taken again. Sorting the 64 latencies on every success cost each
// request a microsecond under the breaker's lock; a median lagging at
// most seven answers behind serves the balancer as well. Until the
// window is full every success takes it. The lag is counted in answers,
// not time: a target seldom used keeps its median until its next ones.
const medianEvery = 8

// Clean forgets the consecutive failures: an answer ended without an
// upstream failure.
func (h *Breaker) Clean() {
	h.mu.Lock()
	h.fails = 0
	h.mu.Unlock()
}

// Neutral records an answer that says nothing about the target's health
// (a client error): the upstream is alive, so the consecutive failures
// are forgotten and a half-open breaker closes.
func (h *Breaker) Neutral(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.count(now, false)
	h.fails = 0
	if h.state == HalfOpen {
		h.state, h.probing = "", false
		h.set.log.Info("target closed: probe answered", "target", h.name())
	}
}

// Failure records a failure described by what (kept, secrets redacted,
// as the last error). A breaking one (connect error, timeout, 5xx, a
// broken stream) counts towards ejection: the Failures-th in a row
// ejects the target, and so does the half-open probe's. A non-breaking
// one (a refused key, a 429) only frees the probe.
func (h *Breaker) Failure(now time.Time, what string, breaking bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.count(now, true)
	h.lastErr, h.lastErrAt = h.set.redact(what), now
	if !breaking {
		if h.state == HalfOpen {
			h.probing = false
		}
		return
	}
	h.fails++
	if h.state == HalfOpen || h.state == "" && h.fails >= h.set.pol.Failures {
		h.ejections++
		d := min(time.Duration(h.ejections)*h.set.pol.BaseEjection, h.set.pol.MaxEjection)
		h.state, h.probing, h.until = Open, false, now.Add(d)
		h.set.log.Info("target ejected", "target", h.name(), "for", d, "ejections", h.ejections, "consecutive_failures", h.fails, "last_error", h.lastErr)
	}
}

// Abandon releases a claimed half-open probe that never got an answer
// (the client went away, or the request could not be built).
func (h *Breaker) Abandon() {
	h.mu.Lock()
	if h.state == HalfOpen {
		h.probing = false
	}
	h.mu.Unlock()
}

// Snapshot reports the target's health at now, with its key's state.
func (h *Breaker) Snapshot(now time.Time) Status {
	k := h.t.key
	ks, until := k.state(now)
	h.mu.Lock()
	defer h.mu.Unlock()
	t := Status{Provider: k.provider, Model: h.t.model, Key: k.id, State: cmp.Or(h.state, Closed), KeyState: ks, KeyCooldownUntil: until,
		ConsecutiveFailures: h.fails, Ejections: h.ejections, LastError: h.lastErr, LastErrorAt: h.lastErrAt,
		InFlight: int(h.inflight.Load()), P50: time.Duration(h.p50.Load())}
	if h.state == Open {
		t.EjectedUntil = h.until
	}
	t.CheckedAt, t.CheckError = h.check.at, h.check.err
	var r1, e1, r5, e5 int
	sec := now.Unix()
	for _, b := range h.buckets {
		if age := sec - b.sec; age >= 0 && age < int64(len(h.buckets)) {
			r5, e5 = r5+int(b.req), e5+int(b.errs)
			if age < 60 {
				r1, e1 = r1+int(b.req), e1+int(b.errs)
			}
		}
	}
	t.Requests1m, t.Requests5m = r1, r5
	if r1 > 0 {
		t.ErrorRate1m = float64(e1) / float64(r1)
	}
	if r5 > 0 {
		t.ErrorRate5m = float64(e5) / float64(r5)
	}
	return t
}
