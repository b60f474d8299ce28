package llmbridge

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
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
// provider that lists it (ModelLister); a name added with WithRoute comes
// first and yields that route's targets, then its fallbacks'.
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
	h     *health
}

// prov is the provider value of t's key.
func (t target) prov() Provider { return t.key.p }

// name is "provider/model", with the key id when there is one, as the
// X-LLMBridge-Target header names it.
func (t target) name() string {
	if t.key.id == "" {
		return t.up.name + "/" + t.model
	}
	return t.up.name + "/" + t.model + "; key=" + t.key.id
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
	var soonest time.Time
	for _, t := range list {
		up := c.b.byName[t.Provider]
		if up == nil || t.Model == "" {
			return nil, c.ownError("routing", fmt.Errorf("target %q/%q names no provider of this bridge", t.Provider, t.Model))
		}
		ks := keys[:0]
		if t.Key != "" {
			i := slices.IndexFunc(up.keys, func(k *providerKey) bool { return k.id == t.Key })
			if i < 0 {
				return nil, c.ownError("routing", fmt.Errorf("target %s/%s names key %q, which provider %s does not have", t.Provider, t.Model, t.Key, t.Provider))
			}
			ks = append(ks, up.keys[i])
		} else {
			ks = up.keyOrder(ks, now)
		}
		for _, k := range ks {
			h := c.b.health.get(healthKey{up, k, t.Model})
			if ok, until := h.available(now); !ok {
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
		return nil, "", &APIError{Status: http.StatusNotFound, Type: ErrorTypeInvalidRequest, Code: "model_not_found", Param: "model",
			Message: fmt.Sprintf("The model `%s` does not exist on this bridge: use provider/model with one of the providers %s.", model, b.providerNames())}
	default:
		names := make([]string, len(ups))
		for i, u := range ups {
			names[i] = u.name + "/" + model
		}
		return nil, "", &APIError{Status: http.StatusNotFound, Type: ErrorTypeInvalidRequest, Code: "model_not_found", Param: "model",
			Message: fmt.Sprintf("The model `%s` is listed by several providers; choose one of %s.", model, strings.Join(names, ", "))}
	}
}

func (b *Bridge) providerNames() string {
	names := make([]string, len(b.upstreams))
	for i, u := range b.upstreams {
		names[i] = u.name
	}
	return "[" + strings.Join(names, ", ") + "]"
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
