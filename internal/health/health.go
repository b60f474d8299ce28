// Package health is the router's engine: each target's circuit breaker
// (consecutive failures, outlier ejection, half-open probes) and
// statistics (requests, errors, median latency), the retry budget over all
// targets, the state and rotation of a provider's keys, and the built-in
// balancers that order a route's targets by that health.
//
// The root package keeps the vocabulary (BreakerPolicy, TargetHealth,
// Target, Balancer, Candidate) and imports this package; this package
// imports nothing of the root. Every type here is safe for concurrent use
// by the requests of a Bridge; none keeps a clock: callers pass the time.
package health

import (
	"cmp"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Circuit states, as Status reports them (the root's StateClosed,
// StateOpen and StateHalfOpen).
const (
	Closed   = "closed"
	Open     = "open"
	HalfOpen = "half-open"
)

// Policy configures the breakers and the retry budget of a Set. It has
// the fields of the root's BreakerPolicy (which converts to it) and the
// same meaning; a Set uses them as given, defaults are the root's job.
type Policy struct {
	// Failures is the number of consecutive breaking failures that eject
	// a target.
	Failures int
	// BaseEjection is how long the first ejection lasts; the n-th lasts
	// n times as long, at most MaxEjection.
	BaseEjection, MaxEjection time.Duration
	// KeyCooldown is how long a key rests after a 429 without
	// Retry-After; the caller applies it with Key.CoolDown.
	KeyCooldown time.Duration
	// RetryBudget is the fraction of the active requests that may be past
	// their first attempt; MinRetryConcurrency of them always may.
	RetryBudget         float64
	MinRetryConcurrency int
}

// Status is one target's health at a moment. It has the fields of the
// root's TargetHealth (which it converts to); see there for their meaning.
type Status struct {
	Provider            string
	Model               string
	Key                 string
	State               string
	KeyState            string
	KeyCooldownUntil    time.Time
	ConsecutiveFailures int
	Ejections           int
	EjectedUntil        time.Time
	LastError           string
	LastErrorAt         time.Time
	InFlight            int
	Requests1m          int
	ErrorRate1m         float64
	Requests5m          int
	ErrorRate5m         float64
	P50                 time.Duration
	CheckedAt           time.Time
	CheckError          string
}

// target names a breaker: a key (which belongs to one provider) and the
// upstream model.
type target struct {
	key   *Key
	model string
}

// Set holds every target's Breaker (created on first use) and the retry
// budget: how many requests are active (in the provider stage or
// relaying) and how many of those are past their first attempt. Build it
// with NewSet; all its methods are safe for concurrent use.
type Set struct {
	mu      sync.RWMutex
	m       map[target]*Breaker
	pol     Policy
	log     *slog.Logger
	secrets []string // the provider keys, redacted from last errors

	active   atomic.Int64 // requests in the provider stage or relaying
	retrying atomic.Int64 // of those, the ones past their first attempt
}

// NewSet returns an empty Set with policy pol that logs state changes
// (ejection, half-open, closed) to log and removes secrets (the provider
// keys) from the failures it keeps. log must not be nil.
func NewSet(pol Policy, log *slog.Logger, secrets []string) *Set {
	return &Set{m: map[target]*Breaker{}, pol: pol, log: log, secrets: secrets}
}

// Get returns the breaker of key k serving model, creating it (closed,
// no history) on first use. The same k and model always give the same
// Breaker.
func (s *Set) Get(k *Key, model string) *Breaker {
	t := target{k, model}
	s.mu.RLock()
	h := s.m[t]
	s.mu.RUnlock()
	if h != nil {
		return h
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h = s.m[t]; h == nil {
		h = &Breaker{t: t, set: s}
		s.m[t] = h
	}
	return h
}

// Load sums the requests in flight and takes the best median latency
// over keys serving model, for balancers (a provider's targets are its
// keys).
func (s *Set) Load(keys []*Key, model string) (inflight int, lat time.Duration) {
	for _, k := range keys {
		h := s.Get(k, model)
		inflight += int(h.inflight.Load())
		if l := time.Duration(h.p50.Load()); l > 0 && (lat == 0 || l < lat) {
			lat = l
		}
	}
	return inflight, lat
}

// Enter counts a request among the active ones, which the retry budget
// is a fraction of; Leave undoes it. A request enters once, when it
// reaches the provider stage, and leaves when it ends.
func (s *Set) Enter() { s.active.Add(1) }

// Leave undoes Enter.
func (s *Set) Leave() { s.active.Add(-1) }

// StartRetry takes a place in the retry budget for a request going past
// its first attempt, and reports false (taking nothing) when the budget
// is spent. A request takes one place at most, whatever its number of
// attempts, and gives it back with EndRetry.
func (s *Set) StartRetry() bool {
	limit := max(int64(float64(s.active.Load())*s.pol.RetryBudget), int64(s.pol.MinRetryConcurrency))
	if s.retrying.Load() >= limit {
		return false
	}
	s.retrying.Add(1)
	return true
}

// EndRetry gives back the place StartRetry took.
func (s *Set) EndRetry() { s.retrying.Add(-1) }

// Snapshot reports every breaker of the set at now, sorted by provider,
// model and key.
func (s *Set) Snapshot(now time.Time) []Status {
	s.mu.RLock()
	list := make([]*Breaker, 0, len(s.m))
	for _, h := range s.m {
		list = append(list, h)
	}
	s.mu.RUnlock()
	out := make([]Status, len(list))
	for i, h := range list {
		out[i] = h.Snapshot(now)
	}
	slices.SortFunc(out, func(a, b Status) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// redact removes the set's secrets from a failure's text, cut to 300
// bytes first.
func (s *Set) redact(text string) string {
	if len(text) > 300 {
		text = text[:300]
	}
	for _, k := range s.secrets {
		text = strings.ReplaceAll(text, k, "[redacted]")
	}
	return text
}
