// Package anthropic is the adapter for Anthropic's Messages API
// (POST {base}/messages, streaming with named SSE events). OpenAI-shaped
// requests are translated to Messages requests and responses and events
// back to OpenAI chunks: thinking becomes reasoning_content (its signature
// travels in a "reasoning_signature" member that clients keeping unknown
// fields send back), tool_use blocks become tool calls, stop reasons and
// usage (cache reads and writes counted in the prompt) are mapped.
package anthropic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// Version is the anthropic-version header sent with every request.
const Version = "2023-06-01"

// Config describes an Anthropic upstream.
type Config struct {
	Name    string // routing prefix, e.g. "anthropic"
	BaseURL string // e.g. https://api.anthropic.com/v1; /messages is appended
	APIKey  string // sent as x-api-key
	Models  []string
	Headers map[string]string
}

// Provider talks to the Messages API. It is immutable and safe for
// concurrent use.
type Provider struct {
	name, url, key string
	models         []string
	header         http.Header
	err            error
}

// New returns a Provider for cfg; configuration errors are reported by
// Validate.
func New(cfg Config) *Provider {
	p := &Provider{name: cfg.Name, url: strings.TrimRight(cfg.BaseURL, "/") + "/messages", key: cfg.APIKey, models: cfg.Models, header: http.Header{}}
	var errs []error
	if cfg.Name == "" || strings.ContainsAny(cfg.Name, "/ \t") {
		errs = append(errs, fmt.Errorf("provider name %q must be non-empty without slashes or spaces", cfg.Name))
	}
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("provider %s: base URL %q must be an absolute http(s) URL", cfg.Name, cfg.BaseURL))
	}
	for k, v := range cfg.Headers {
		p.header.Set(k, v)
	}
	p.header.Set("Content-Type", "application/json")
	p.header.Set("Anthropic-Version", Version)
	if cfg.APIKey != "" {
		p.header.Set("X-Api-Key", cfg.APIKey)
	}
	p.err = errors.Join(errs...)
	return p
}

// Name returns the routing prefix.
func (p *Provider) Name() string { return p.name }

// Models returns the configured model names.
func (p *Provider) Models() []string { return p.models }

// Validate reports configuration errors.
func (p *Provider) Validate() error { return p.err }

// APIKey returns the provider key (never logged).
func (p *Provider) APIKey() string { return p.key }

// NewRequest translates req and builds the Messages request. Requests that
// cannot be translated fail with a 400 *openai.APIError before anything is
// sent.
func (p *Provider) NewRequest(ctx context.Context, req *openai.ChatRequest) (*http.Request, error) {
	body, err := translateRequest(req)
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header = p.header.Clone()
	if req.Stream {
		hreq.Header.Set("Accept", "text/event-stream")
	}
	return hreq, nil
}
