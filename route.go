package llmbridge

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/health"
)

// Strategy names how a Route orders its Targets for each request.
type Strategy string

// The built-in strategies.
const (
	// StrategyWeighted picks the first target at random in proportion to
	// the weights, then the rest the same way among those left.
	StrategyWeighted Strategy = "weighted"
	// StrategyOrdered tries the targets in the order listed.
	StrategyOrdered Strategy = "ordered"
	// StrategyLeastBusy tries the target with the fewest requests in
	// flight first (ties keep the listed order).
	StrategyLeastBusy Strategy = "least-busy"
	// StrategyLowestLatency tries the target with the lowest median time
	// to response headers first; targets not measured yet come first so
	// they get measured.
	StrategyLowestLatency Strategy = "lowest-latency"
)

// RouteTarget is one deployment of a Route.
type RouteTarget struct {
	// Model is "provider/model" with a provider of the Bridge.
	Model string
	// Weight is the target's share under StrategyWeighted (and the
	// Candidate weight a Balancer sees); 0 means 1, negative is an error.
	Weight int
}

// Route is a model group: a model name clients ask for ("smart") that the
// default router turns into several deployments, ordered by a Strategy,
// followed by fallbacks. It is data; WithRoute adds one.
//
// A Route named like an existing "provider/model" must have no Targets: it
// adds Fallbacks (and RetryOn) to that model. Any other name shadowing a
// provider/model is an error, and so are unknown providers, negative
// weights, unknown strategies or RetryOn values, unknown fallbacks and
// cycles (a route whose fallbacks lead back to it); New lists them all.
type Route struct {
	// Name is the model name clients send.
	Name string
	// Strategy orders Targets for each request; "" means StrategyWeighted.
	Strategy Strategy
	// Targets are the deployments, all equal in the client's eyes.
	Targets []RouteTarget
	// Fallbacks are tried in order after every target failed: other
	// routes' names, or "provider/model" (or a bare name one provider
	// lists).
	Fallbacks []string
	// RetryOn names the failures that move a request on to the next
	// target: "connect", "timeout", "429", "5xx". Empty means all four.
	// Other failures (400, 404, 413, 422, content filters) go back to the
	// client as they are. A provider key refused with 401 or 403 always
	// moves on, to the provider's other keys first; so does a provider that
	// answers with a redirect (never followed: a 502 upstream_redirect).
	RetryOn []string
	// Balancer, when set, replaces Strategy.
	Balancer Balancer
}

// Candidate is one target of a route as a Balancer sees it, with the
// Bridge's current view of its health.
type Candidate struct {
	Target Target
	Weight int
	// InFlight is the number of requests being answered by it now.
	InFlight int
	// Latency is the median time to response headers of its recent
	// requests; 0 when none was measured yet.
	Latency time.Duration
}

// Balancer orders the candidates of a route for one request: the Bridge
// tries them in the order Order leaves them in. Order is called once per
// request, must be safe for concurrent use, and may only reorder cands
// (not add, drop or keep it). Ejected targets (circuit open) are removed
// after ordering.
type Balancer interface {
	Order(r *Request, cands []Candidate)
}

// BalancerFunc adapts a function to a Balancer.
type BalancerFunc func(r *Request, cands []Candidate)

// Order calls f(r, cands).
func (f BalancerFunc) Order(r *Request, cands []Candidate) { f(r, cands) }

// WithRoute adds a Route (see its contract). Route names must be unique.
// Routes are resolved by the default router before "provider/model" and
// bare names, and listed by GET /v1/models with owned_by "llmbridge".
func WithRoute(r Route) Option {
	return func(c *config) error {
		r.Targets = slices.Clone(r.Targets)
		r.Fallbacks = slices.Clone(r.Fallbacks)
		r.RetryOn = slices.Clone(r.RetryOn)
		c.routes = append(c.routes, r)
		return nil
	}
}

// failure kinds, as RetryOn names them (bit flags).
type failKind uint8

const (
	failConnect failKind = 1 << iota
	failTimeout
	fail429
	fail5xx
	failAuth   // 401/403: the bridge's key, not the client's request
	failClient // every other 4xx: the client's request
	failOther  // cancelled, or a CheckRetry verdict
	retryOnAll = failConnect | failTimeout | fail429 | fail5xx
)

var retryOnNames = map[string]failKind{"connect": failConnect, "timeout": failTimeout, "429": fail429, "5xx": fail5xx}

// route is a validated Route.
type route struct {
	Route
	targets []routeTarget
	retryOn failKind
	bal     Balancer
}

type routeTarget struct {
	up     *upstream
	model  string
	weight int
}

// buildRoutes validates the routes against the providers and indexes them.
func (b *Bridge) buildRoutes(list []Route) []error {
	var errs []error
	b.routeByName = map[string]*route{}
	for i, r := range list {
		where := fmt.Sprintf("route %d (%q)", i+1, r.Name)
		switch {
		case r.Name == "":
			errs = append(errs, fmt.Errorf("%s: the name is empty", where))
			continue
		case b.routeByName[r.Name] != nil:
			errs = append(errs, fmt.Errorf("%s: the name is used twice", where))
			continue
		}
		rt, rerrs := b.buildRoute(where, r)
		errs = append(errs, rerrs...)
		b.routeByName[r.Name] = rt
		b.routeList = append(b.routeList, rt)
	}
	errs = append(errs, b.checkFallbacks()...)
	errs = append(errs, b.routeCycles()...)
	return errs
}

// buildRoute validates route r, named where in its errors, against the
// providers: its name, strategy, targets and RetryOn.
func (b *Bridge) buildRoute(where string, r Route) (*route, []error) {
	var errs []error
	rt := &route{Route: r, retryOn: retryOnAll}
	if up, model, ok := b.providerModel(r.Name); ok {
		if len(r.Targets) > 0 {
			errs = append(errs, fmt.Errorf("%s: the name shadows the provider model %s/%s; name the route differently, or give it no targets to add fallbacks to that model", where, up.name, model))
		} else {
			rt.targets = []routeTarget{{up: up, model: model, weight: 1}}
		}
	} else if strings.Contains(r.Name, "/") && b.byName[r.Name[:strings.IndexByte(r.Name, '/')]] == nil && len(r.Targets) == 0 {
		errs = append(errs, fmt.Errorf("%s: names no provider of this bridge and has no targets", where))
	}
	if rt.bal = strategyBalancer(r.Strategy); rt.bal == nil {
		errs = append(errs, fmt.Errorf("%s: strategy %q is not one of weighted, ordered, least-busy, lowest-latency", where, r.Strategy))
	}
	if r.Balancer != nil {
		rt.bal = r.Balancer
	}
	errs = append(errs, b.routeTargets(where, rt)...)
	if len(r.RetryOn) > 0 {
		rt.retryOn = 0
		for _, s := range r.RetryOn {
			k, ok := retryOnNames[s]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: retry_on %q is not one of connect, timeout, 429, 5xx", where, s))
			}
			rt.retryOn |= k
		}
	}
	if len(rt.targets) == 0 && len(r.Fallbacks) == 0 && len(r.Targets) == 0 {
		errs = append(errs, fmt.Errorf("%s: has neither targets nor fallbacks", where))
	}
	return rt, errs
}

// routeTargets resolves rt's Targets to the providers, appending them to
// rt.targets, and reports the ones that name none or weigh less than 0.
func (b *Bridge) routeTargets(where string, rt *route) []error {
	var errs []error
	for j, t := range rt.Targets {
		up, model, ok := b.providerModel(t.Model)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: target %d model %q is not provider/model with a provider of this bridge (%s)", where, j+1, t.Model, b.providerNames()))
		case t.Weight < 0:
			errs = append(errs, fmt.Errorf("%s: target %d (%s) has weight %d; weights must be positive", where, j+1, t.Model, t.Weight))
		default:
			rt.targets = append(rt.targets, routeTarget{up: up, model: model, weight: max(t.Weight, 1)})
		}
	}
	return errs
}

// checkFallbacks reports the routes' fallbacks that are neither a route
// nor a model of the bridge.
func (b *Bridge) checkFallbacks() []error {
	var errs []error
	for _, rt := range b.routeList {
		for _, f := range rt.Fallbacks {
			if b.routeByName[f] != nil {
				continue
			}
			if _, _, err := b.resolve(f); err != nil {
				errs = append(errs, fmt.Errorf("route %q: fallback %q is neither a route nor a model of this bridge", rt.Name, f))
			}
		}
	}
	return errs
}

// strategyBalancer returns the built-in balancer of s ("" is
// StrategyWeighted), nil for an unknown strategy.
func strategyBalancer(s Strategy) Balancer {
	switch s {
	case "", StrategyWeighted:
		return weighted{}
	case StrategyOrdered:
		return ordered{}
	case StrategyLeastBusy:
		return leastBusy{}
	case StrategyLowestLatency:
		return lowestLatency{}
	}
	return nil
}

// The built-in balancers of the Strategy values: the engine's orders
// (internal/health) over Candidates. None allocates.
type (
	ordered       struct{} // keeps the listed order
	weighted      struct{} // draws without replacement in proportion to the weights
	leastBusy     struct{} // the fewest requests in flight first
	lowestLatency struct{} // the fastest first, unmeasured ones before all
)

func (ordered) Order(*Request, []Candidate) {}

func (weighted) Order(_ *Request, cands []Candidate) {
	health.Weighted(cands, func(c Candidate) int { return c.Weight }, rand.IntN)
}

func (leastBusy) Order(_ *Request, cands []Candidate) {
	health.LeastBusy(cands, func(c Candidate) int { return c.InFlight })
}

func (lowestLatency) Order(_ *Request, cands []Candidate) {
	health.LowestLatency(cands, func(c Candidate) time.Duration { return c.Latency })
}

// providerModel splits "provider/model" naming a provider of the Bridge.
func (b *Bridge) providerModel(s string) (*upstream, string, bool) {
	if i := strings.IndexByte(s, '/'); i > 0 && i < len(s)-1 {
		if u := b.byName[s[:i]]; u != nil {
			return u, s[i+1:], true
		}
	}
	return nil, "", false
}

// routeCycles reports every route whose fallbacks lead back to it.
func (b *Bridge) routeCycles() []error {
	var errs []error
	for _, start := range b.routeList {
		seen := map[string]bool{}
		var walk func(name string, path []string) bool
		walk = func(name string, path []string) bool {
			rt := b.routeByName[name]
			if rt == nil {
				return false
			}
			for _, f := range rt.Fallbacks {
				if f == start.Name {
					errs = append(errs, fmt.Errorf("route %q: its fallbacks lead back to it (%s → %s)", start.Name, strings.Join(append(path, name), " → "), f))
					return true
				}
				if !seen[f] {
					seen[f] = true
					if walk(f, append(path, name)) {
						return true
					}
				}
			}
			return false
		}
		walk(start.Name, nil)
	}
	return errs
}

// expand appends the targets of route rt for request r: its own, ordered
// by its balancer, then its fallbacks' in order.
func (b *Bridge) expand(dst []Target, r *Request, rt *route) []Target {
	if n := len(rt.targets); n > 0 {
		var buf [8]Candidate
		cands := buf[:0]
		for _, t := range rt.targets {
			inflight, lat := b.health.Load(t.up.ring.Keys(), t.model)
			cands = append(cands, Candidate{Target: Target{Provider: t.up.name, Model: t.model}, Weight: t.weight, InFlight: inflight, Latency: lat})
		}
		if n > 1 {
			rt.bal.Order(r, cands)
		}
		for _, c := range cands {
			dst = append(dst, c.Target)
		}
	}
	for _, f := range rt.Fallbacks {
		if sub := b.routeByName[f]; sub != nil {
			dst = b.expand(dst, r, sub)
			continue
		}
		if up, model, err := b.resolve(f); err == nil {
			dst = append(dst, Target{Provider: up.name, Model: model})
		}
	}
	return dst
}

// routeModels lists the routes for /v1/models; a route named like a
// provider model is listed already.
func (b *Bridge) routeModels() []Model {
	var out []Model
	for _, rt := range b.routeList {
		if _, _, ok := b.providerModel(rt.Name); ok {
			continue
		}
		out = append(out, Model{ID: rt.Name, Object: "model", Created: b.created, OwnedBy: "llmbridge"})
	}
	return out
}

// routeModel answers GET /v1/models/{id} for a route name.
func (b *Bridge) routeModel(id string) (Model, bool) {
	if b.routeByName[id] == nil {
		return Model{}, false
	}
	if _, _, ok := b.providerModel(id); ok {
		return Model{}, false
	}
	return Model{ID: id, Object: "model", Created: b.created, OwnedBy: "llmbridge"}, true
}
