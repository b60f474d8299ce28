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
// removed upstream. A bare name works when exactly one provider lists it.
package llmbridge

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// Bridge routes OpenAI-style chat requests to providers. It is immutable
// after New and safe for concurrent use. It is an http.Handler.
type Bridge struct {
	cfg       config
	upstreams []*upstream
	byName    map[string]*upstream
	byModel   map[string][]*upstream // bare model name → providers listing it
	keys      [][sha256.Size]byte    // digests of the access keys
	keyIDs    []string               // their fingerprints, same order
	tokens    *TokenCounter
	log       *slog.Logger
	modelList []byte // GET /v1/models body, built once
	created   int64
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
	b := &Bridge{cfg: cfg, byName: map[string]*upstream{}, byModel: map[string][]*upstream{}, log: cfg.logger, created: time.Now().Unix(), tokens: cfg.tokens}
	if b.tokens == nil {
		b.tokens = NewTokenCounter()
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	for _, e := range cfg.providers {
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
		u := newUpstream(p, e.settings, &cfg)
		b.upstreams = append(b.upstreams, u)
		b.byName[name] = u
		if l, ok := p.(ModelLister); ok {
			for _, m := range l.Models() {
				b.byModel[m] = append(b.byModel[m], u)
			}
		}
	}
	providerKeys := providerSecrets(cfg.providers)
	for _, k := range cfg.accessKeys {
		if providerKeys[k] {
			errs = append(errs, errors.New("an access key equals a provider key: provider keys are never accepted from clients"))
			continue
		}
		sum := sha256.Sum256([]byte(k))
		b.keys = append(b.keys, sum)
		b.keyIDs = append(b.keyIDs, KeyID(k))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	b.modelList, _ = openai.Marshal(modelList{Object: "list", Data: b.Models()})
	return b, nil
}

// providerSecrets collects the keys of providers that can report them.
func providerSecrets(ps []providerEntry) map[string]bool {
	out := map[string]bool{}
	for _, e := range ps {
		if s, ok := e.p.(interface{ APIKey() string }); ok && s.APIKey() != "" {
			out[s.APIKey()] = true
		}
	}
	return out
}

// Handler returns the Bridge as an http.Handler (the Bridge itself).
func (b *Bridge) Handler() http.Handler { return b }

// Close releases idle upstream connections. Requests in flight are not
// affected; the Bridge stays usable.
func (b *Bridge) Close() error {
	for _, u := range b.upstreams {
		u.transport.CloseIdleConnections()
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
// providers were added.
func (b *Bridge) Models() []Model {
	out := []Model{}
	for _, u := range b.upstreams {
		l, ok := u.p.(ModelLister)
		if !ok {
			continue
		}
		for _, m := range l.Models() {
			out = append(out, Model{ID: u.name + "/" + m, Object: "model", Created: b.created, OwnedBy: u.name})
		}
	}
	return out
}

// route finds the provider for a client's model name and the name to send
// upstream.
func (b *Bridge) route(model string) (*upstream, string, *APIError) {
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

// call is one request's life: route, contexts, timers, what was relayed
// and the usage record it ends with (see finish).
type call struct {
	b            *Bridge
	up           *upstream
	includeUsage bool
	rec          UsageRecord

	parent context.Context // the caller's
	ctx    context.Context // the upstream's: parent + max duration + idle
	cancel context.CancelCauseFunc
	stop   context.CancelFunc

	accepted bool         // the upstream answered 2xx
	rawUsage []byte       // usage object seen by the raw relay
	usage    *Usage       // usage seen by the typed paths
	text     []byte       // completion text relayed, for counting without usage
	first    time.Time    // first event sent
	req      *ChatRequest // the typed request, when there is one
	body     []byte       // the client's body (handler), decoded only to count
}

// newCall starts a call for a request that arrived now.
func (b *Bridge) newCall(parent context.Context, rid string) *call {
	c := &call{b: b, parent: parent, rec: UsageRecord{Time: time.Now(), RequestID: rid}}
	ctx, cancel := context.WithCancelCause(parent)
	c.ctx, c.stop = context.WithTimeoutCause(ctx, b.cfg.timeouts.MaxDuration, errMaxDuration)
	c.cancel = cancel
	return c
}

// route records where the call goes.
func (c *call) route(up *upstream, model, upstreamModel string, stream, includeUsage bool) {
	c.up, c.includeUsage = up, includeUsage
	c.rec.Provider, c.rec.Model, c.rec.UpstreamModel, c.rec.Stream = up.name, model, upstreamModel, stream
}

// end releases the call's contexts; the upstream request is cancelled if
// it is still running.
func (c *call) end() {
	c.stop()
	c.cancel(context.Canceled)
}

// watchIdle makes resp.Body cancel the call after StreamIdle of silence.
func (c *call) watchIdle(resp *http.Response) {
	c.accepted = true
	d := c.b.cfg.timeouts.StreamIdle
	resp.Body = &idleBody{ReadCloser: resp.Body, d: d, timer: time.AfterFunc(d, func() { c.cancel(errIdleTimeout) })}
}

// fail converts err to the APIError to report, preferring the reason the
// call's own context ended (idle timeout, maximum duration), and notes it
// in the record.
func (c *call) fail(err error) *APIError {
	if c.parent.Err() == nil {
		if cause := context.Cause(c.ctx); cause != nil && (errors.Is(cause, errIdleTimeout) || errors.Is(cause, errMaxDuration)) {
			err = cause
		}
	}
	name := ""
	if c.up != nil {
		name = c.up.name
	}
	e := asAPIError(c.parent, name, err)
	c.note(e)
	return e
}

// note records an error's status and message.
func (c *call) note(e *APIError) {
	c.rec.Error = e.Message
	if e.Status == StatusClientClosedRequest {
		c.rec.Status = e.Status
	} else if c.first.IsZero() {
		c.rec.Status = e.StatusCode()
	}
}

// request returns the typed request, decoding the client's body if needed.
func (c *call) request() *ChatRequest {
	if c.req == nil && c.body != nil {
		c.req, _ = decodeRequest(c.body)
	}
	return c.req
}

func (b *Bridge) prepare(ctx context.Context, req *ChatRequest) (*upstream, string, error) {
	if req == nil {
		return nil, "", errorf(http.StatusBadRequest, ErrorTypeInvalidRequest, "invalid_request", "request is nil")
	}
	if req.Model == "" {
		return nil, "", &APIError{Status: http.StatusBadRequest, Type: ErrorTypeInvalidRequest, Param: "model", Code: "missing_required_parameter", Message: "you must provide a model parameter"}
	}
	if len(req.Messages) == 0 {
		return nil, "", &APIError{Status: http.StatusBadRequest, Type: ErrorTypeInvalidRequest, Param: "messages", Code: "missing_required_parameter", Message: "messages must be a non-empty array"}
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	up, upModel, aerr := b.route(req.Model)
	if aerr != nil {
		return nil, "", aerr
	}
	return up, upModel, nil
}

// ChatCompletion runs a non-streaming chat completion in-process, through
// the same routing, retries, timeouts and error mapping as the handler.
// req.Stream is ignored. Errors are *APIError.
func (b *Bridge) ChatCompletion(ctx context.Context, req *ChatRequest) (*ChatResponse, error) {
	c := b.newCall(ctx, requestID(""))
	defer b.finish(c)
	defer c.end()
	up, upModel, err := b.prepare(ctx, req)
	if err != nil {
		return nil, c.fail(err)
	}
	c.route(up, req.Model, upModel, false, false)
	c.req = req
	r := *req
	r.Model, r.Stream, r.StreamOptions = upModel, false, nil
	hreq, err := up.p.NewRequest(c.ctx, &r)
	if err != nil {
		return nil, c.fail(err)
	}
	resp, err := up.send(c.ctx, hreq)
	if err != nil {
		return nil, c.fail(err)
	}
	c.watchIdle(resp)
	out, err := up.p.DecodeResponse(resp)
	if err != nil {
		return nil, c.fail(err)
	}
	c.usage = out.Usage
	if out.Usage == nil {
		for _, ch := range out.Choices {
			c.text = appendMessage(c.text, &ch.Message)
		}
	}
	return out, nil
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
		c := b.newCall(ctx, requestID(""))
		defer b.finish(c)
		defer c.end()
		up, upModel, err := b.prepare(ctx, req)
		if err != nil {
			yield(nil, c.fail(err))
			return
		}
		c.route(up, req.Model, upModel, true, req.IncludeUsage())
		c.req = req
		r := *req
		r.Model, r.Stream = upModel, true
		hreq, err := up.p.NewRequest(c.ctx, &r)
		if err != nil {
			yield(nil, c.fail(err))
			return
		}
		resp, err := up.send(c.ctx, hreq)
		if err != nil {
			yield(nil, c.fail(err))
			return
		}
		c.watchIdle(resp)
		for ch, err := range up.p.DecodeStream(resp) {
			if err != nil {
				yield(nil, c.fail(err))
				return
			}
			c.observe(ch)
			for _, out := range splitUsage(ch, c.includeUsage) {
				if c.first.IsZero() {
					c.first = time.Now()
				}
				if !yield(out, nil) {
					c.note(&APIError{Status: StatusClientClosedRequest, Message: "the caller stopped reading the stream"})
					return
				}
			}
		}
	}
}
