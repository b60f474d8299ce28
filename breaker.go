package llmbridge

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// BreakerPolicy configures circuit breaking per target (provider + key +
// model), Envoy-style outlier ejection, and the retry budget. Zero fields
// keep their defaults (DefaultBreakerPolicy()).
type BreakerPolicy struct {
	// Failures is the number of consecutive failures (connect errors,
	// timeouts, 429, 5xx) that eject a target.
	Failures int
	// BaseEjection is how long the first ejection lasts; the n-th lasts
	// n times as long, at most MaxEjection. After it one probe request
	// half-opens the target: success closes it, failure ejects it again.
	BaseEjection, MaxEjection time.Duration
	// KeyCooldown is how long a provider key rests after a 429 without
	// Retry-After (with one, as long as it asks, at most MaxEjection).
	KeyCooldown time.Duration
	// RetryBudget caps the requests that are on a second or later attempt
	// (retries and failovers) at this fraction of the requests in flight,
	// but always allows MinRetryConcurrency of them.
	RetryBudget         float64
	MinRetryConcurrency int
}

// DefaultBreakerPolicy returns the policy of a Bridge built without
// WithBreaker: 5 failures, 30 s × ejections up to 5 min, 10 s key
// cooldown, retry budget 20 % with a minimum of 3.
func DefaultBreakerPolicy() BreakerPolicy {
	return BreakerPolicy{Failures: 5, BaseEjection: 30 * time.Second, MaxEjection: 5 * time.Minute,
		KeyCooldown: 10 * time.Second, RetryBudget: 0.2, MinRetryConcurrency: 3}
}

// WithBreaker sets the circuit-breaking policy; zero fields keep their
// defaults.
func WithBreaker(p BreakerPolicy) Option {
	return func(c *config) error {
		if p.Failures < 0 || p.BaseEjection < 0 || p.MaxEjection < 0 || p.KeyCooldown < 0 || p.RetryBudget < 0 || p.RetryBudget > 1 || p.MinRetryConcurrency < 0 {
			return fmt.Errorf("WithBreaker: invalid policy %+v: durations and counts must not be negative, RetryBudget within [0, 1]", p)
		}
		d := &c.breaker
		setPos(&d.Failures, p.Failures)
		setPos(&d.BaseEjection, p.BaseEjection)
		setPos(&d.MaxEjection, p.MaxEjection)
		setPos(&d.KeyCooldown, p.KeyCooldown)
		setPos(&d.RetryBudget, p.RetryBudget)
		setPos(&d.MinRetryConcurrency, p.MinRetryConcurrency)
		return nil
	}
}

func setPos[T int | float64 | time.Duration](dst *T, v T) {
	if v > 0 {
		*dst = v
	}
}

// Circuit states, as TargetHealth reports them.
const (
	StateClosed   = "closed"
	StateOpen     = "open"
	StateHalfOpen = "half-open"
)

// TargetHealth is the Bridge's view of one target (provider + key + model).
type TargetHealth struct {
	Provider string `json:"provider"`
	Model    string `json:"model"`
	// Key is the provider key's id ("key-" and 8 hex digits of its
	// SHA-256), never the key; empty for providers whose key is unknown.
	Key string `json:"key,omitempty"`
	// State is StateClosed, StateOpen or StateHalfOpen.
	State string `json:"state"`
	// KeyState is "ok", "cooling" (429, until KeyCooldownUntil) or
	// "refused" (401/403: taken out).
	KeyState            string    `json:"key_state"`
	KeyCooldownUntil    time.Time `json:"key_cooldown_until,omitzero"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	Ejections           int       `json:"ejections"`
	EjectedUntil        time.Time `json:"ejected_until,omitzero"`
	// LastError is the last failure's summary, provider keys redacted.
	LastError   string        `json:"last_error,omitempty"`
	LastErrorAt time.Time     `json:"last_error_at,omitzero"`
	InFlight    int           `json:"in_flight"`
	Requests1m  int           `json:"requests_1m"`
	ErrorRate1m float64       `json:"error_rate_1m"`
	Requests5m  int           `json:"requests_5m"`
	ErrorRate5m float64       `json:"error_rate_5m"`
	P50         time.Duration `json:"p50_ns"` // time to response headers
}

// providerKey is one key of a provider, with its own provider value
// sharing the upstream's transport, and its health across models.
type providerKey struct {
	p  Provider
	id string // KeyID of the secret, or "" when unknown

	mu        sync.Mutex
	refused   bool      // 401/403 seen: taken out while other keys serve
	coolUntil time.Time // 429 seen
}

func (k *providerKey) usable(now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return !k.refused && !now.Before(k.coolUntil)
}

// healthKey names a target.
type healthKey struct {
	up    *upstream
	key   *providerKey
	model string
}

// healthSet holds every target's health; targets are added on first use.
type healthSet struct {
	mu      sync.RWMutex
	m       map[healthKey]*health
	pol     BreakerPolicy
	log     *slog.Logger
	secrets []string // the provider keys, redacted from last errors

	active   atomic.Int64 // requests in the provider stage or relaying
	retrying atomic.Int64 // of those, the ones past their first attempt
}

func (s *healthSet) get(k healthKey) *health {
	s.mu.RLock()
	h := s.m[k]
	s.mu.RUnlock()
	if h != nil {
		return h
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h = s.m[k]; h == nil {
		h = &health{k: k, set: s}
		if s.m == nil {
			s.m = map[healthKey]*health{}
		}
		s.m[k] = h
	}
	return h
}

// load sums in-flight requests and takes the best median latency over
// the keys of up serving model, for balancers.
func (s *healthSet) load(up *upstream, model string) (inflight int, lat time.Duration) {
	for _, k := range up.keys {
		h := s.get(healthKey{up, k, model})
		inflight += int(h.inflight.Load())
		if l := time.Duration(h.p50.Load()); l > 0 && (lat == 0 || l < lat) {
			lat = l
		}
	}
	return inflight, lat
}

// retryAllowed reports whether one more request may go past its first
// attempt under the retry budget.
func (s *healthSet) retryAllowed() bool {
	limit := max(int64(float64(s.active.Load())*s.pol.RetryBudget), int64(s.pol.MinRetryConcurrency))
	return s.retrying.Load() < limit
}

// health is one target's breaker and statistics.
type health struct {
	k        healthKey
	set      *healthSet
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
}

type bucket struct {
	sec       int64
	req, errs int32
}

func (h *health) name() string {
	s := h.k.up.name + "/" + h.k.model
	if h.k.key.id != "" {
		s += " (" + h.k.key.id + ")"
	}
	return s
}

// available reports whether the target may be tried now, and if not,
// when it may.
func (h *health) available(now time.Time) (bool, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.state == StateOpen && now.Before(h.until):
		return false, h.until
	case h.state == StateHalfOpen && h.probing:
		return false, now.Add(time.Second)
	}
	return true, time.Time{}
}

// begin claims an attempt: false when the target was ejected meanwhile or
// another request holds its half-open probe.
func (h *health) begin(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.state {
	case StateOpen:
		if now.Before(h.until) {
			return false
		}
		h.state, h.probing = StateHalfOpen, true
		h.set.log.Info("target half-open: probing", "target", h.name(), "ejections", h.ejections)
	case StateHalfOpen:
		if h.probing {
			return false
		}
		h.probing = true
	}
	return true
}

func (h *health) count(now time.Time, failed bool) {
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

// success closes the circuit and records the latency to headers.
func (h *health) success(now time.Time, latency time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.count(now, false)
	// The consecutive failures are forgotten when the answer ends cleanly
	// (clean): a stream that breaks after its 2xx still counts.
	if h.state != "" {
		h.fails = 0
		h.set.log.Info("target closed: probe succeeded", "target", h.name())
		h.state, h.probing = "", false
	}
	h.lat[h.latN%len(h.lat)] = latency
	h.latN++
	n := min(h.latN, len(h.lat))
	s := h.lat // a copy, on the stack
	slices.Sort(s[:n])
	h.p50.Store(int64(s[n/2]))
}

// clean forgets the consecutive failures: an answer ended without an
// upstream failure.
func (h *health) clean() {
	h.mu.Lock()
	h.fails = 0
	h.mu.Unlock()
}

// neutral records an answer that says nothing about the target's health
// (a client error): the upstream is alive.
func (h *health) neutral(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.count(now, false)
	h.fails = 0
	if h.state == StateHalfOpen {
		h.state, h.probing = "", false
		h.set.log.Info("target closed: probe answered", "target", h.name())
	}
}

// failure counts a failure; breaking ones eject the target after
// Failures in a row, or at once when it was the half-open probe.
func (h *health) failure(now time.Time, what string, breaking bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.count(now, true)
	h.lastErr, h.lastErrAt = h.set.redact(what), now
	if !breaking {
		if h.state == StateHalfOpen {
			h.probing = false
		}
		return
	}
	h.fails++
	if h.state == StateHalfOpen || h.state == "" && h.fails >= h.set.pol.Failures {
		h.ejections++
		d := min(time.Duration(h.ejections)*h.set.pol.BaseEjection, h.set.pol.MaxEjection)
		h.state, h.probing, h.until = StateOpen, false, now.Add(d)
		h.set.log.Info("target ejected", "target", h.name(), "for", d, "ejections", h.ejections, "consecutive_failures", h.fails, "last_error", h.lastErr)
	}
}

// abandon releases a claimed half-open probe that never got an answer
// (the client went away).
func (h *health) abandon() {
	h.mu.Lock()
	if h.state == StateHalfOpen {
		h.probing = false
	}
	h.mu.Unlock()
}

// redact removes the bridge's provider keys from a text.
func (s *healthSet) redact(text string) string {
	if len(text) > 300 {
		text = text[:300]
	}
	for _, k := range s.secrets {
		text = strings.ReplaceAll(text, k, "[redacted]")
	}
	return text
}

// snapshot reports the target's health at now.
func (h *health) snapshot(now time.Time) TargetHealth {
	k := h.k.key
	k.mu.Lock()
	ks, until := "ok", time.Time{}
	switch {
	case k.refused:
		ks = "refused"
	case now.Before(k.coolUntil):
		ks, until = "cooling", k.coolUntil
	}
	k.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	t := TargetHealth{Provider: h.k.up.name, Model: h.k.model, Key: k.id, State: cmp.Or(h.state, StateClosed), KeyState: ks, KeyCooldownUntil: until,
		ConsecutiveFailures: h.fails, Ejections: h.ejections, LastError: h.lastErr, LastErrorAt: h.lastErrAt,
		InFlight: int(h.inflight.Load()), P50: time.Duration(h.p50.Load())}
	if h.state == StateOpen {
		t.EjectedUntil = h.until
	}
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

// Health lists every target the Bridge knows (those of the routes from
// the start, others once used), sorted by provider, model and key. It is
// safe for concurrent use and reads a moment's state.
func (b *Bridge) Health() []TargetHealth {
	now := b.clock.Now()
	b.health.mu.RLock()
	list := make([]*health, 0, len(b.health.m))
	for _, h := range b.health.m {
		list = append(list, h)
	}
	b.health.mu.RUnlock()
	out := make([]TargetHealth, len(list))
	for i, h := range list {
		out[i] = h.snapshot(now)
	}
	slices.SortFunc(out, func(a, b TargetHealth) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Key, b.Key))
	})
	return out
}
