// Package llmbridge puts many LLM providers (OpenAI, Gemini, DeepSeek, any
// OpenAI-compatible vendor, or a Provider of your own) behind one
// OpenAI-compatible API.
//
// A Bridge is an http.Handler serving POST /v1/chat/completions (streaming
// and not), GET /v1/models and GET /v1/models/{provider}/{model}; mount it
// in any mux. The same routing, retries, timeouts and error mapping run
// in-process through ChatCompletion and ChatCompletionStream.
//
// Quick start:
//
//	b, err := llmbridge.New(
//		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{APIKey: os.Getenv("OPENAI_API_KEY")})),
//		llmbridge.WithAccessKeys("my-client-key"),
//	)
//	if err != nil { … }
//	defer b.Close()
//	http.ListenAndServe("127.0.0.1:1219", b)
//
// Models are addressed as "provider/model" ("openai/gpt-4o"); the prefix is
// removed upstream. A bare name goes to the one provider that lists it,
// else whose family claims it (ModelFamily, WithModelRefresh).
package llmbridge

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/llmbridge/llmbridge/internal/health"
	"github.com/llmbridge/llmbridge/internal/healthcheck"
	"github.com/llmbridge/llmbridge/internal/models"
	"github.com/llmbridge/llmbridge/internal/openai"
)

// Bridge routes OpenAI-style chat requests to providers. It is immutable
// after New and safe for concurrent use. It is an http.Handler.
type Bridge struct {
	cfg       config
	upstreams []*upstream
	byName    map[string]*upstream
	byModel   map[string][]*upstream // bare model name → providers listing it
	admitters []Admitter             // the access-key check first, then WithAdmitter's
	// authenticators are the admitters that check keys from the headers,
	// before the body is read (Authenticator).
	authenticators []Authenticator
	throttle       *AuthThrottle // failed authentications by source; nil: off
	refusedLog     sampler       // the console lines of unauthenticated requests
	router         Router
	obs            observers
	clock          clock
	tokens         *TokenCounter
	log            *slog.Logger
	mux            *http.ServeMux         // the handler's routes, built once
	gate           gate                   // WithMaxConcurrent
	modelList      atomic.Pointer[[]byte] // GET /v1/models body, rebuilt when a live list changes (models.go)
	families       models.Families        // the providers' model name patterns, by upstream index
	catalog        *models.Catalog        // the upstreams' live model lists (WithModelRefresh)
	routeByName    map[string]*route      // WithRoute's, by name (route.go)
	routeList      []*route
	health         *health.Set // per-target breakers and the retry budget (internal/health)
	created        int64
	checks         *healthcheck.Runner // WithHealthCheck's, until Close
}

// New builds a Bridge. It validates every option and provider and returns
// all problems joined in one error.
func New(opts ...Option) (*Bridge, error) {
	cfg := defaultConfig()
	var errs []error
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			errs = append(errs, err)
		}
	}
	b := &Bridge{cfg: cfg, byName: map[string]*upstream{}, byModel: map[string][]*upstream{}, log: cfg.logger, created: time.Now().Unix(),
		tokens: cfg.tokens, router: cfg.router, obs: newObservers(cfg.observers), clock: realClock{}}
	if b.router == nil {
		b.router = defaultRouter{b}
	}
	b.gate.max = cfg.maxActive
	if b.tokens == nil {
		b.tokens = NewTokenCounter()
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	provKeys := providerSecrets(cfg.providers)
	b.health = health.NewSet(health.Policy(cfg.breaker), b.log, provKeys)
	errs = append(errs, b.addProviders(cfg.providers)...)
	errs = append(errs, b.buildModels()...) // families and live lists (models.go)
	errs = append(errs, b.addAdmitters(provKeys)...)
	b.throttle = cfg.throttle
	if !cfg.throttleSet {
		b.throttle = NewAuthThrottle(AuthThrottleOptions{})
	}
	errs = append(errs, b.buildRoutes(cfg.routes)...)
	checks, cerrs := b.healthChecks(cfg.checks) // routing.go
	if err := errors.Join(append(errs, cerrs...)...); err != nil {
		return nil, err
	}
	for _, rt := range b.routeList { // listed by Health from the start
		for _, t := range rt.targets {
			for _, k := range t.up.ring.Keys() {
				b.health.Get(k, t.model)
			}
		}
	}
	b.renderModels()
	b.mux = b.routes(clientFormats()...)
	b.checks = healthcheck.Start(checks, healthcheck.RealTimer{}, b.log)
	if cfg.modelRefresh > 0 {
		b.catalog.Start()
	}
	return b, nil
}

// addProviders validates the providers and gives each its upstream,
// indexed by name and by the models it lists.
func (b *Bridge) addProviders(ps []providerEntry) []error {
	var errs []error
	for _, e := range ps {
		p := e.p
		if v, ok := p.(Validator); ok {
			if err := v.Validate(); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		name := p.Name()
		if name == "" || strings.ContainsAny(name, "/ ") {
			errs = append(errs, fmt.Errorf("provider name %q must be non-empty without slashes or spaces", name))
			continue
		}
		if b.byName[name] != nil {
			errs = append(errs, fmt.Errorf("provider %q added twice", name))
			continue
		}
		u := newUpstream(p, e.settings, &b.cfg)
		b.upstreams = append(b.upstreams, u)
		b.byName[name] = u
		if l, ok := p.(ModelLister); ok && !e.settings.prefixOnly {
			for _, m := range l.Models() {
				b.byModel[m] = append(b.byModel[m], u)
			}
		}
	}
	return errs
}

// addAdmitters puts the access-key check (refusing access keys that equal
// one of provKeys, the provider keys) before WithAdmitter's admitters and
// finds the authenticators among them.
func (b *Bridge) addAdmitters(provKeys []string) []error {
	var errs []error
	keys := &accessKeys{}
	for _, k := range b.cfg.accessKeys {
		if slices.Contains(provKeys, k) {
			errs = append(errs, errors.New("an access key equals a provider key: provider keys are never accepted from clients"))
			continue
		}
		keys.sums = append(keys.sums, sha256.Sum256([]byte(k)))
		keys.ids = append(keys.ids, KeyID(k))
	}
	if len(keys.sums) > 0 {
		b.admitters = append(b.admitters, keys)
	}
	b.admitters = append(b.admitters, b.cfg.admitters...)
	for _, a := range b.admitters {
		if au, ok := a.(Authenticator); ok {
			b.authenticators = append(b.authenticators, au)
		}
	}
	return errs
}

// providerSecrets collects the keys of providers that can report them.
func providerSecrets(ps []providerEntry) []string {
	var out []string
	for _, e := range ps {
		out = append(out, secrets(e.p)...)
	}
	return out
}

// Handler returns the Bridge as an http.Handler (the Bridge itself).
func (b *Bridge) Handler() http.Handler { return b }

// Close stops the health checks (WithHealthCheck) and refreshing the
// model lists (WithModelRefresh; the last ones stay), and releases idle
// upstream connections; a finished stream whose end is still being read
// (endpoint.Link) closes its connection when done, rather than pool it
// (net/http's transport, once told to close its idle connections).
// Requests in flight are not affected; the Bridge stays usable.
func (b *Bridge) Close() error {
	b.checks.Stop()
	b.catalog.Close()
	for _, u := range b.upstreams {
		u.transport.CloseIdleConnections()
		if u.plain != nil {
			u.plain.CloseIdleConnections()
		}
	}
	return nil
}

// Model is one entry of the model list.
type Model struct {
	ID      string `json:"id"` // "provider/model"
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"` // the provider name
}

type modelList struct {
	Object string  `json:"object"`
	Data   []Model `json:"data"`
}

// Models lists every provider's models with their prefix, in the order the
// providers were added — its configured list (ModelLister), then the names
// only its upstream's live list has (WithModelRefresh), each once — then
// the routes (WithRoute) with owned_by "llmbridge". It is safe for
// concurrent use.
func (b *Bridge) Models() []Model {
	out := []Model{}
	for i, u := range b.upstreams {
		owner := modelOwner(u.p, u.name)
		for _, m := range b.providerModels(i) {
			out = append(out, Model{ID: u.name + "/" + m, Object: "model", Created: b.created, OwnedBy: owner})
		}
	}
	return append(out, b.routeModels()...)
}

// checkChat is the in-process request's check: the envelope, then every
// member the way the handler checks a body.
func checkChat(req *ChatRequest) *APIError {
	switch {
	case req == nil:
		return errorf(http.StatusBadRequest, ErrorTypeInvalidRequest, "invalid_request", "request is nil")
	case req.Model == "":
		return &APIError{Status: http.StatusBadRequest, Type: ErrorTypeInvalidRequest, Param: "model", Code: "missing_required_parameter", Message: "you must provide a model parameter"}
	case len(req.Messages) == 0:
		return &APIError{Status: http.StatusBadRequest, Type: ErrorTypeInvalidRequest, Param: "messages", Code: "missing_required_parameter", Message: "messages must be a non-empty array"}
	}
	// The handler's rules, on the JSON the request encodes to: an encoding
	// costs microseconds beside the upstream call it guards.
	return openai.ValidateChatRequest(req)
}

// inProcess starts a call for a typed request of an in-process caller.
func (b *Bridge) inProcess(ctx context.Context, req *ChatRequest, stream bool) *call {
	env := envelope{stream: stream, bad: checkChat(req)}
	if req != nil {
		env.model = req.Model
		env.includeUsage = stream && req.IncludeUsage()
	}
	c := b.newCall(ctx, chatFormat{}, requestID(""), env)
	c.chat = req
	if ctx.Err() != nil && env.bad == nil {
		c.env.bad = c.b.asAPIError(ctx, c.rec.RequestID, "", ctx.Err())
	}
	return c
}

// ChatCompletion runs a non-streaming chat completion in-process, through
// the same pipeline as the handler: admission (access keys do not apply
// in-process), routing, retries and failover, timeouts, error mapping,
// observers. req.Stream is ignored. Errors are *APIError.
func (b *Bridge) ChatCompletion(ctx context.Context, req *ChatRequest) (*ChatResponse, error) {
	c := b.inProcess(ctx, req, false)
	out := &callerOutput{}
	c.run(out)
	if out.err != nil {
		return nil, out.err
	}
	return out.resp, nil
}

// ChatCompletionStream runs a streaming chat completion in-process. The
// sequence is single-use; ranging over it again yields one error. A failure
// ends it with a (nil, error) pair, the error an *APIError; a normal end has
// none. The usage chunk (no choices) is yielded only when
// req.StreamOptions.IncludeUsage is set. Stopping the range early, or
// cancelling ctx, cancels the upstream request.
func (b *Bridge) ChatCompletionStream(ctx context.Context, req *ChatRequest) iter.Seq2[*ChatChunk, error] {
	var used atomic.Bool
	return func(yield func(*ChatChunk, error) bool) {
		if used.Swap(true) {
			yield(nil, errorf(http.StatusInternalServerError, ErrorTypeServer, "stream_reused", "a ChatCompletionStream sequence can be ranged over only once"))
			return
		}
		b.inProcess(ctx, req, true).run(&callerOutput{yield: yield})
	}
}

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
