package llmbridge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/health"
	"github.com/llmbridge/llmbridge/internal/healthcheck"
)

// Target is one place a request can be sent: a provider added with
// WithProvider, by name, the model name sent to it and, for a provider
// with several keys (ProviderConfig.APIKeys), which key.
type Target struct {
	Provider string // the provider's Name ("openai")
	Model    string // the upstream model name ("gpt-4o")
	// Key is a key id (TargetHealth.Key, "key-1a2b3c4d"), never the key.
	// Empty means any: the Bridge spreads requests over the provider's
	// keys, trying the others when one fails, and skips keys that were
	// refused (401/403) or are cooling down after a 429 while others can
	// serve.
	Key string
}

// Router turns a request into the targets to try, in order. The Bridge
// sends to the first; when it fails before anything reached the client
// with an error worth retrying (RetryPolicy.CheckRetry), it moves on to the
// next at once, and retries only the last one with backoff.
//
// Route is called once per request after admission, before any upstream
// work, and must be safe for concurrent use. The Bridge then drops targets
// whose circuit is open (see BreakerPolicy); when none is left the client
// gets 503 with Retry-After at once. An *APIError it returns
// reaches the client as it is (404 model_not_found for a model nobody
// serves); any other error becomes a 500 whose cause is logged. A target
// naming a provider the Bridge does not have is a configuration error
// reported as 500. The default router resolves "provider/model" to that
// provider with the prefix removed, and a bare model name to the one
// provider that lists it (ModelLister), else whose upstream's live list
// names it (WithModelRefresh), else whose family claims it (ModelFamily);
// a name added with WithRoute comes first and yields that route's
// targets, then its fallbacks'.
type Router interface {
	Route(ctx context.Context, r *Request) ([]Target, error)
}

// RouterFunc adapts a function to a Router.
type RouterFunc func(ctx context.Context, r *Request) ([]Target, error)

// Route calls f(ctx, r).
func (f RouterFunc) Route(ctx context.Context, r *Request) ([]Target, error) { return f(ctx, r) }

// target is a Target resolved to the Bridge's upstream, key and health.
type target struct {
	up    *upstream
	key   *providerKey
	model string
	h     *health.Breaker
}

// prov is the provider value of t's key, or the family of that
// provider serving t's model (PerModelProvider).
func (t target) prov() Provider {
	if f, ok := t.key.p.(PerModelProvider); ok {
		return f.ForModel(t.model)
	}
	return t.key.p
}

// name is "provider/model", with the key id when there is one, as the
// X-LLMBridge-Target header names it.
func (t target) name() string {
	if t.key.ID() == "" {
		return t.up.name + "/" + t.model
	}
	return t.up.name + "/" + t.model + "; key=" + t.key.ID()
}

// route asks the router for the targets, resolves them to keys and drops
// the ejected ones (circuit open). When every target is ejected the client
// gets 503 with Retry-After at once. The record names the first target
// until another one answers.
func (c *call) route() ([]target, *APIError) {
	list, err := c.b.router.Route(c.ctx, &c.req)
	if err != nil {
		return nil, c.ownError("routing", err)
	}
	if len(list) == 0 {
		return nil, c.ownError("routing", fmt.Errorf("no target for model %q", c.req.Model))
	}
	if rt := c.b.routeByName[c.req.Model]; rt != nil {
		c.rec.Route, c.retryOn = rt.Name, rt.retryOn
	}
	now := c.b.clock.Now()
	out := make([]target, 0, len(list)+2)
	var keys [8]*providerKey
	var turnBuf [4]keyTurn
	turns := keyTurns(turnBuf[:0])
	var soonest time.Time
	for _, t := range list {
		up := c.b.byName[t.Provider]
		if up == nil || t.Model == "" {
			return nil, c.ownError("routing", fmt.Errorf("target %q/%q names no provider of this bridge", t.Provider, t.Model))
		}
		ks := keys[:0]
		if t.Key != "" {
			i := slices.IndexFunc(up.keys, func(k *providerKey) bool { return k.ID() == t.Key })
			if i < 0 {
				return nil, c.ownError("routing", fmt.Errorf("target %s/%s names key %q, which provider %s does not have", t.Provider, t.Model, t.Key, t.Provider))
			}
			ks = append(ks, up.keys[i])
		} else {
			var start int
			start, turns = turns.of(up)
			ks = up.keyOrder(ks, start, now)
		}
		for _, k := range ks {
			h := c.b.health.Get(k.Key, t.Model)
			if ok, until := h.Available(now); !ok {
				if soonest.IsZero() || until.Before(soonest) {
					soonest = until
				}
				continue
			}
			out = append(out, target{up: up, key: k, model: t.Model, h: h})
		}
	}
	if len(out) == 0 {
		secs := max(int(math.Ceil(soonest.Sub(now).Seconds())), 1)
		return nil, c.note(&APIError{Status: http.StatusServiceUnavailable, Type: ErrorTypeServer, Code: "targets_unavailable",
			Message:    fmt.Sprintf("every target for model `%s` is failing and ejected for now; retry in %d s", c.req.Model, secs),
			RetryAfter: strconv.Itoa(secs)})
	}
	c.rec.Provider, c.rec.UpstreamModel = out[0].up.name, out[0].model
	return out, nil
}

// keyTurns holds the rotation turn (health.Ring.Turn) one request took of
// each provider it meets. A provider's keys are one pool wherever its
// models appear: a route with a target and a fallback on the same
// provider must not turn its ring once per target, or with as many
// targets as keys every request would start on the same key. The
// route's balancer orders the models; the ring alone spreads the keys.
type keyTurns []keyTurn

type keyTurn struct {
	up    *upstream
	start int
}

// of returns the request's turn of up's keys, taking it the first time
// the request meets up, and ts with it. It returns ts rather than append
// through a pointer so that a caller's array behind ts stays on its
// stack: route allocates nothing for its turns.
func (ts keyTurns) of(up *upstream) (int, keyTurns) {
	for _, t := range ts {
		if t.up == up {
			return t.start, ts
		}
	}
	start := up.ring.Turn()
	return start, append(ts, keyTurn{up: up, start: start})
}

// defaultRouter resolves model names as described on Router.
type defaultRouter struct{ b *Bridge }

func (d defaultRouter) Route(_ context.Context, r *Request) ([]Target, error) {
	if rt := d.b.routeByName[r.Model]; rt != nil {
		return d.b.expand(make([]Target, 0, len(rt.targets)+len(rt.Fallbacks)), r, rt), nil
	}
	up, model, err := d.b.resolve(r.Model)
	if err != nil {
		return nil, err
	}
	return []Target{{Provider: up.name, Model: model}}, nil
}

// resolve finds the provider for a client's model name and the name to
// send upstream.
func (b *Bridge) resolve(model string) (*upstream, string, *APIError) {
	if i := strings.IndexByte(model, '/'); i > 0 && i < len(model)-1 {
		if u := b.byName[model[:i]]; u != nil {
			return u, model[i+1:], nil
		}
	}
	switch ups := b.byModel[model]; len(ups) {
	case 1:
		return ups[0], model, nil
	case 0:
		return b.resolveBare(model) // live lists, then families (models.go)
	default:
		names := make([]string, len(ups))
		for i, u := range ups {
			names[i] = u.name + "/" + model
		}
		return nil, "", &APIError{Status: http.StatusNotFound, Type: ErrorTypeInvalidRequest, Code: "model_not_found", Param: "model",
			Message: fmt.Sprintf("The model `%s` is listed by several providers; choose one of %s.", model, strings.Join(names, ", "))}
	}
}

// Targets returns where the Bridge's own resolution sends a client's model
// name: a route's targets and fallbacks (in its balancer's order now), or
// the one provider model the name resolves to; nil for a name nothing
// serves. A Router set with WithRouter is not consulted. Admitters use it
// to judge a request before routing, such as pricing a budgeted key's
// model. It is safe for concurrent use.
func (b *Bridge) Targets(model string) []Target {
	if rt := b.routeByName[model]; rt != nil {
		return b.expand(nil, &Request{Model: model}, rt)
	}
	up, m, err := b.resolve(model)
	if err != nil {
		return nil
	}
	return []Target{{Provider: up.name, Model: m}}
}

// BreakerPolicy configures circuit breaking per target (provider + key +
// model), Envoy-style outlier ejection, and the retry budget. Zero fields
// keep their defaults (DefaultBreakerPolicy()).
type BreakerPolicy struct {
	// Failures is the number of consecutive failures (connect errors,
	// timeouts, 5xx; not 429, which only rests the key) that eject a
	// target.
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
	// CheckedAt is when the active health check (WithHealthCheck) last
	// answered, CheckError its failure then ("" when it passed); zero
	// without a check.
	CheckedAt  time.Time `json:"checked_at,omitzero"`
	CheckError string    `json:"check_error,omitempty"`
}

// Health lists every target the Bridge knows (those of the routes from
// the start, others once used), sorted by provider, model and key. It is
// safe for concurrent use and reads a moment's state.
func (b *Bridge) Health() []TargetHealth {
	list := b.health.Snapshot(b.clock.Now())
	out := make([]TargetHealth, len(list))
	for i, s := range list {
		out[i] = TargetHealth(s)
	}
	return out
}

// HealthCheck is an active health check (WithHealthCheck): every
// Interval, the cheapest call of Target's provider on each of its keys
// (or Target.Key's only): its models list (ModelSource), else a one-token
// completion ("ping", max_tokens 1) to Target's model. A failed
// check (connect error, timeout, redirect, 401, 403, 429, 5xx) ejects
// that target at once, before a user's request finds it dead; a passed
// one (2xx, or another 4xx: the upstream answers) lets a target whose
// ejection ended back in. Checks are not traffic: no usage record, no
// observer, no cost, no request statistics; TargetHealth shows the last
// one (CheckedAt, CheckError).
type HealthCheck struct {
	Target   Target
	Interval time.Duration // at least a second
}

// WithHealthCheck adds active health checks, run from New until Close.
func WithHealthCheck(checks ...HealthCheck) Option {
	return func(c *config) error {
		c.checks = append(c.checks, checks...)
		return nil
	}
}

// healthChecks validates the checks of WithHealthCheck and makes them
// runnable.
func (b *Bridge) healthChecks(list []HealthCheck) ([]healthcheck.Check, []error) {
	var out []healthcheck.Check
	var errs []error
	for _, hc := range list {
		t := hc.Target
		if b.byName[t.Provider] == nil || t.Model == "" || hc.Interval < time.Second {
			errs = append(errs, fmt.Errorf("WithHealthCheck: %s/%s every %s: want a provider of this bridge, a model and an interval of at least 1s", t.Provider, t.Model, hc.Interval))
			continue
		}
		out = append(out, healthcheck.Check{Name: t.Provider + "/" + t.Model, Interval: hc.Interval,
			Run: func(ctx context.Context) error { return b.CheckHealth(ctx, t) }})
	}
	return out, errs
}

// CheckHealth checks target t now, as a HealthCheck does (every key of
// its provider when t.Key is empty), feeds the targets' breakers with the
// verdicts and returns the failures joined, or nil. It is safe for
// concurrent use.
func (b *Bridge) CheckHealth(ctx context.Context, t Target) error {
	up := b.byName[t.Provider]
	if up == nil || t.Model == "" {
		return fmt.Errorf("CheckHealth: %s/%s is no target of this bridge", t.Provider, t.Model)
	}
	one := 1
	req := &ChatRequest{Model: t.Model, MaxTokens: &one, Messages: []Message{{Role: "user", Content: TextContent("ping")}}}
	var errs []error
	for _, k := range up.keys {
		if t.Key != "" && k.ID() != t.Key {
			continue
		}
		p := k.p
		newReq := func(ctx context.Context) (*http.Request, error) { r := *req; return p.NewRequest(ctx, &r) }
		if src, ok := p.(ModelSource); ok { // the models list: no tokens spent
			newReq = func(ctx context.Context) (*http.Request, error) { return src.NewModelsRequest(ctx, "") }
		}
		if err := healthcheck.Probe(ctx, up.client, newReq, b.health.Get(k.Key, t.Model), b.clock.Now); err != nil {
			errs = append(errs, fmt.Errorf("%s/%s %s: %w", t.Provider, t.Model, k.ID(), err))
		}
	}
	return errors.Join(errs...)
}
