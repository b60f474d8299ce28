package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
	oaiwire "github.com/llmbridge/llmbridge/internal/provider/openai"
)

// OwnedBy is the owned_by of the demo's models in /v1/models.
const OwnedBy = "llmbridge-demo"

// Config configures a Provider. The zero Config is the demo as the server
// runs it, without a delay.
type Config struct {
	// Name is the routing prefix; "demo" when empty.
	Name string
	// Delay is the pause before each streamed word of the built-in
	// upstream (0: none).
	Delay time.Duration
	// BaseURL, when set, sends requests to {BaseURL}/chat/completions of
	// that OpenAI-compatible upstream instead of the built-in one (the
	// conformance suite uses it); Delay then has no effect.
	BaseURL string
	// APIKey is the bearer key sent to BaseURL.
	APIKey string
	// Tokens counts usage in the built-in upstream; a new counter when
	// nil.
	Tokens Counter
}

// Counter counts the demo's usage: a *tokens.Counter, or the public
// TokenCounter of the Bridge the demo serves (adapted by package demo).
type Counter interface {
	Prompt(model string, req *openai.ChatRequest) (int, bool)
	Text(model, text string) int
}

// Provider is the demo provider. It is safe for concurrent use; Close it
// when done if it may have started its built-in upstream.
type Provider struct {
	name    string
	base    string // fixed BaseURL, or "" for the built-in upstream
	key     string
	delay   time.Duration
	counter Counter

	// dec decodes answers: the upstream speaks the OpenAI wire, so the
	// OpenAI adapter's decoders serve (errors name this provider).
	dec *oaiwire.Provider

	mu      sync.Mutex
	wire    *oaiwire.Provider // builds requests for the upstream, once known
	srv     *http.Server      // the built-in upstream once started
	srvURL  string
	srvErr  error
	closed  bool
	serveWG sync.WaitGroup
}

// New returns a demo provider for cfg. It opens nothing until its first
// request.
func New(cfg Config) *Provider {
	p := &Provider{name: cfg.Name, base: strings.TrimRight(cfg.BaseURL, "/"), key: cfg.APIKey, delay: cfg.Delay, counter: cfg.Tokens}
	if p.name == "" {
		p.name = "demo"
	}
	// Only its decoders are used: no request goes to this base URL.
	p.dec = oaiwire.New(oaiwire.Config{Name: p.name, BaseURL: "http://decoder.invalid"})
	return p
}

// Name returns the routing prefix.
func (p *Provider) Name() string { return p.name }

// Models returns the demo's models: "echo", "error-429", "error-500". Any
// other model name is answered like "echo".
func (p *Provider) Models() []string { return []string{ModelEcho, ModelError429, ModelError500} }

// OwnedBy returns "llmbridge-demo", the owned_by of the demo's models.
func (p *Provider) OwnedBy() string { return OwnedBy }

// Validate reports a BaseURL that is not an absolute http(s) URL.
func (p *Provider) Validate() error {
	if p.base == "" {
		return nil
	}
	if !strings.HasPrefix(p.base, "http://") && !strings.HasPrefix(p.base, "https://") {
		return fmt.Errorf("provider %s: base URL %q must be an absolute http(s) URL", p.name, p.base)
	}
	return nil
}

// upstream returns the OpenAI wire of the upstream requests go to,
// starting the built-in upstream on first use.
func (p *Provider) upstream() (*oaiwire.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("demo provider is closed")
	}
	if p.base == "" && p.srv == nil && p.srvErr == nil {
		p.srvErr = p.start()
	}
	if p.srvErr != nil {
		return nil, p.srvErr
	}
	if p.wire == nil {
		base, key := p.base, p.key
		if base == "" {
			base = p.srvURL
		}
		p.wire = oaiwire.New(oaiwire.Config{Name: p.name, BaseURL: base, APIKey: key})
	}
	return p.wire, nil
}

// start serves an Upstream on a loopback port, behind a random key so
// that no other local program can use it. Called with p.mu held.
func (p *Provider) start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo provider: opening its loopback upstream: %w", err)
	}
	var k [16]byte
	_, _ = rand.Read(k[:])
	p.key = "demo-" + hex.EncodeToString(k[:])
	p.srv = &http.Server{Handler: NewUpstream(p.key, p.delay, p.counter), ReadHeaderTimeout: 10 * time.Second}
	p.srvURL = "http://" + ln.Addr().String() + "/v1"
	srv := p.srv
	p.serveWG.Go(func() { _ = srv.Serve(ln) })
	return nil
}

// Close stops the built-in upstream, if it was started, ending requests
// still running on it. Later requests fail. Close is idempotent.
func (p *Provider) Close() error {
	p.mu.Lock()
	p.closed = true
	srv := p.srv
	p.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	p.serveWG.Wait()
	return err
}

// NewRequest builds the POST to the upstream's /chat/completions, asking
// a stream for its usage.
func (p *Provider) NewRequest(ctx context.Context, req *openai.ChatRequest) (*http.Request, error) {
	w, err := p.upstream()
	if err != nil {
		return nil, err
	}
	return w.NewRequest(ctx, req)
}

// DecodeResponse decodes a non-streamed 2xx response and closes its body.
func (p *Provider) DecodeResponse(resp *http.Response) (*openai.ChatResponse, error) {
	return p.dec.DecodeResponse(resp)
}

// DecodeStream yields the chunks of a 2xx event stream until [DONE]. It
// owns resp.Body and closes it on every exit; a stream that ends before
// [DONE] ends with openai.ErrTruncated, an error event with its
// *openai.APIError.
func (p *Provider) DecodeStream(resp *http.Response) iter.Seq2[*openai.ChatChunk, error] {
	return p.dec.DecodeStream(resp)
}

// DecodeError turns a non-2xx response into an *openai.APIError keeping
// its status, OpenAI error fields and Retry-After, and closes the body.
func (p *Provider) DecodeError(resp *http.Response) error {
	return p.dec.DecodeError(resp)
}
