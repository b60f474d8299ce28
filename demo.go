package llmbridge

import (
	"context"
	"iter"
	"net/http"
	"time"

	demoprov "github.com/llmbridge/llmbridge/internal/provider/demo"
)

// DemoConfig configures the demo provider (Demo). The zero DemoConfig is
// a demo named "demo" that streams without pauses, as tests want it.
type DemoConfig struct {
	// Name is the routing prefix ("demo" in "demo/echo"); "demo" when
	// empty.
	Name string
	// Delay is the pause before each streamed word, to make a stream look
	// like a model's (the server uses 40ms); 0 means none.
	Delay time.Duration
	// Tokens counts the demo's usage; nil means a TokenCounter of its own.
	// Share the Bridge's (WithTokenCounter) to load the encoding once.
	Tokens *TokenCounter
}

// DemoProvider is the built-in demo provider: it needs no key and answers
// deterministically, for first runs, examples and tests of code that calls
// the bridge. Its models are
//
//   - "echo" (and any name it does not list): the text of the last user
//     message comes back, streamed one word per chunk; after a tool result,
//     "The tool returned: " and the result. When the request offers
//     function tools and asks for a call — tool_choice "required" or a
//     named function, or the last user message contains the word "tool" or
//     a tool's name — the answer is a call of that tool (else the first),
//     its arguments every required parameter (strings get the message's
//     text or their enum's first value).
//   - "error-429": HTTP 429 rate_limit_exceeded with Retry-After: 1, in
//     OpenAI's error shape (the Bridge retries it like any 429 first).
//   - "error-500": HTTP 500 server_error in OpenAI's error shape.
//
// Usage is counted with the bridge's tokenizer (o200k_base): the prompt as
// OpenAI counts it, and the reply's text or the tool call's name and
// arguments. /v1/models lists the models with owned_by "llmbridge-demo"
// (ModelOwner).
//
// A Provider only translates and the Bridge does the I/O, so the demo
// brings its own upstream: an OpenAI-compatible server on a loopback port
// it opens on its first request, reachable only with a random key it
// never shows. Close shuts that server down; a DemoProvider is safe for
// concurrent use and may be shared by several Bridges (a server's
// reloads) until then.
type DemoProvider struct {
	p *demoprov.Provider
}

// Demo returns a demo provider configured by cfg (see DemoProvider). It
// opens nothing until its first request; call Close when done with it.
//
//	demo := llmbridge.Demo(llmbridge.DemoConfig{})
//	defer demo.Close()
//	b, err := llmbridge.New(llmbridge.WithProvider(demo))
func Demo(cfg DemoConfig) *DemoProvider {
	c := demoprov.Config{Name: cfg.Name, Delay: cfg.Delay}
	if cfg.Tokens != nil {
		c.Tokens = cfg.Tokens.c
	}
	return &DemoProvider{p: demoprov.New(c)}
}

// ModelOwner is implemented by providers whose models /v1/models lists
// with an owned_by other than the provider's name (the demo's
// "llmbridge-demo"). Model IDs keep the provider's name as their prefix.
type ModelOwner interface {
	OwnedBy() string
}

var (
	_ Provider    = (*DemoProvider)(nil)
	_ ModelLister = (*DemoProvider)(nil)
	_ ModelOwner  = (*DemoProvider)(nil)
)

// Name returns the routing prefix.
func (d *DemoProvider) Name() string { return d.p.Name() }

// Models returns "echo", "error-429" and "error-500".
func (d *DemoProvider) Models() []string { return d.p.Models() }

// OwnedBy returns "llmbridge-demo".
func (d *DemoProvider) OwnedBy() string { return d.p.OwnedBy() }

// NewRequest builds the request to the demo's own upstream, starting it on
// the first call; after Close it fails.
func (d *DemoProvider) NewRequest(ctx context.Context, req *ChatRequest) (*http.Request, error) {
	return d.p.NewRequest(ctx, req)
}

// DecodeResponse decodes a non-streamed response and closes its body.
func (d *DemoProvider) DecodeResponse(resp *http.Response) (*ChatResponse, error) {
	return d.p.DecodeResponse(resp)
}

// DecodeStream yields a stream's chunks; it owns resp.Body and closes it
// on every exit, and a stream cut before its end ends with an error.
func (d *DemoProvider) DecodeStream(resp *http.Response) iter.Seq2[*ChatChunk, error] {
	return d.p.DecodeStream(resp)
}

// DecodeError returns the *APIError of a non-2xx response (status,
// message, type, code and Retry-After kept) and closes its body.
func (d *DemoProvider) DecodeError(resp *http.Response) error { return d.p.DecodeError(resp) }

// Close stops the demo's upstream, ending requests still running on it;
// later requests fail with a 500. Close is idempotent and returns nil
// when the upstream never started.
func (d *DemoProvider) Close() error { return d.p.Close() }

// modelOwner is the owned_by of p's models: OwnedBy when p is a
// ModelOwner that returns a non-empty one, else name.
func modelOwner(p Provider, name string) string {
	if o, ok := p.(ModelOwner); ok && o.OwnedBy() != "" {
		return o.OwnedBy()
	}
	return name
}
