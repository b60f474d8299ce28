package llmbridge

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Target is one place a request can be sent: a provider added with
// WithProvider, by name, and the model name sent to it.
type Target struct {
	Provider string // the provider's Name ("openai")
	Model    string // the upstream model name ("gpt-4o")
}

// Router turns a request into the targets to try, in order. The Bridge
// sends to the first; when it fails before anything reached the client
// with an error worth retrying (RetryPolicy.CheckRetry), it moves on to the
// next at once, and retries only the last one with backoff.
//
// Route is called once per request after admission, before any upstream
// work, and must be safe for concurrent use. An *APIError it returns
// reaches the client as it is (404 model_not_found for a model nobody
// serves); any other error becomes a 500 whose cause is logged. A target
// naming a provider the Bridge does not have is a configuration error
// reported as 500. The default router resolves "provider/model" to that
// provider with the prefix removed, and a bare model name to the one
// provider that lists it (ModelLister).
type Router interface {
	Route(ctx context.Context, r *Request) ([]Target, error)
}

// RouterFunc adapts a function to a Router.
type RouterFunc func(ctx context.Context, r *Request) ([]Target, error)

// Route calls f(ctx, r).
func (f RouterFunc) Route(ctx context.Context, r *Request) ([]Target, error) { return f(ctx, r) }

// target is a Target resolved to the Bridge's upstream.
type target struct {
	up    *upstream
	model string
}

// route asks the router for the targets and resolves them; the record
// names the first until another one answers.
func (c *call) route() ([]target, *APIError) {
	list, err := c.b.router.Route(c.ctx, &c.req)
	if err != nil {
		return nil, c.ownError("routing", err)
	}
	if len(list) == 0 {
		return nil, c.ownError("routing", fmt.Errorf("no target for model %q", c.req.Model))
	}
	out := make([]target, len(list))
	for i, t := range list {
		up := c.b.byName[t.Provider]
		if up == nil || t.Model == "" {
			return nil, c.ownError("routing", fmt.Errorf("target %q/%q names no provider of this bridge", t.Provider, t.Model))
		}
		out[i] = target{up: up, model: t.Model}
	}
	c.rec.Provider, c.rec.UpstreamModel = out[0].up.name, out[0].model
	return out, nil
}

// defaultRouter resolves model names as described on Router.
type defaultRouter struct{ b *Bridge }

func (d defaultRouter) Route(_ context.Context, r *Request) ([]Target, error) {
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
