// Package demo is LLM Bridge's built-in demo provider: a Provider that
// needs no key and answers deterministically, for first runs, examples and
// tests of code that calls the bridge.
//
//	d := demo.New(demo.Config{})
//	defer d.Close()
//	b, err := llmbridge.New(llmbridge.WithProvider(d))
package demo

import (
	"context"
	"iter"
	"net/http"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/openai"
	demoprov "github.com/llmbridge/llmbridge/internal/provider/demo"
)

// Config configures the demo provider. The zero Config is a demo named
// "demo" that streams without pauses, as tests want it.
type Config struct {
	// Name is the routing prefix ("demo" in "demo/echo"); "demo" when
	// empty.
	Name string
	// Delay is the pause before each streamed word, to make a stream look
	// like a model's (the server uses 40ms); 0 means none.
	Delay time.Duration
	// Tokens counts the demo's usage; nil means a counter of its own.
	// Share the Bridge's (llmbridge.WithTokenCounter) to load the encoding
	// once.
	Tokens *llmbridge.TokenCounter
}

// Provider is the demo provider. Its models are
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
// (llmbridge.ModelOwner).
//
// A Provider only translates and the Bridge does the I/O, so the demo
// brings its own upstream: an OpenAI-compatible server on a loopback port
// it opens on its first request, reachable only with a random key it
// never shows. Close shuts that server down; a Provider is safe for
// concurrent use and may be shared by several Bridges (a server's
// reloads) until then.
type Provider struct {
	p *demoprov.Provider
}

// New returns a demo provider configured by cfg. It opens nothing until
// its first request; call Close when done with it.
func New(cfg Config) *Provider {
	c := demoprov.Config{Name: cfg.Name, Delay: cfg.Delay}
	if cfg.Tokens != nil {
		c.Tokens = counter{cfg.Tokens}
	}
	return &Provider{p: demoprov.New(c)}
}

var (
	_ llmbridge.Provider    = (*Provider)(nil)
	_ llmbridge.ModelLister = (*Provider)(nil)
	_ llmbridge.ModelOwner  = (*Provider)(nil)
)

// Name returns the routing prefix.
func (d *Provider) Name() string { return d.p.Name() }

// Models returns "echo", "error-429" and "error-500".
func (d *Provider) Models() []string { return d.p.Models() }

// OwnedBy returns "llmbridge-demo".
func (d *Provider) OwnedBy() string { return d.p.OwnedBy() }

// NewRequest builds the request to the demo's own upstream, starting it on
// the first call; after Close it fails.
func (d *Provider) NewRequest(ctx context.Context, req *llmbridge.ChatRequest) (*http.Request, error) {
	return d.p.NewRequest(ctx, req)
}

// DecodeResponse decodes a non-streamed response and closes its body.
func (d *Provider) DecodeResponse(resp *http.Response) (*llmbridge.ChatResponse, error) {
	return d.p.DecodeResponse(resp)
}

// DecodeStream yields a stream's chunks; it owns resp.Body and closes it
// on every exit, and a stream cut before its end ends with an error.
func (d *Provider) DecodeStream(resp *http.Response) iter.Seq2[*llmbridge.ChatChunk, error] {
	return d.p.DecodeStream(resp)
}

// DecodeError returns the *APIError of a non-2xx response (status,
// message, type, code and Retry-After kept) and closes its body.
func (d *Provider) DecodeError(resp *http.Response) error { return d.p.DecodeError(resp) }

// Close stops the demo's upstream, ending requests still running on it;
// later requests fail with a 500. Close is idempotent and returns nil
// when the upstream never started.
func (d *Provider) Close() error { return d.p.Close() }

// counter counts with the Bridge's public TokenCounter.
type counter struct{ t *llmbridge.TokenCounter }

func (c counter) Prompt(model string, req *openai.ChatRequest) (int, bool) {
	return c.t.CountPrompt(model, req)
}

func (c counter) Text(model, text string) int { return c.t.CountText(model, text) }
