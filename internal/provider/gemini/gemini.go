// Package gemini is the native adapter for Google's Gemini API
// (generateContent and streamGenerateContent?alt=sse): OpenAI-shaped
// requests are translated to Gemini's, and Gemini's responses and SSE
// events back to OpenAI chunks.
//
// Thought signatures (Gemini 3 rejects a later turn whose function call
// lost its signature) travel inside the OpenAI tool-call id as
// "<id>__thought__<signature>", which every OpenAI client sends back
// unchanged; the adapter splits them off again when it translates the
// history.
package gemini

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

// Config describes a Gemini upstream.
type Config struct {
	Name    string // routing prefix, e.g. "gemini"
	BaseURL string // API root, e.g. https://generativelanguage.googleapis.com/v1beta
	APIKey  string // sent as x-goog-api-key, never in the URL
	Models  []string
	Headers map[string]string
}

// Provider talks to Gemini's native API. It is immutable and safe for
// concurrent use.
type Provider struct {
	name   string
	base   string
	key    string
	models []string
	header http.Header
	err    error
}

// New returns a Provider for cfg; configuration errors are reported by
// Validate.
func New(cfg Config) *Provider {
	p := &Provider{name: cfg.Name, base: strings.TrimRight(cfg.BaseURL, "/"), key: cfg.APIKey, models: cfg.Models, header: http.Header{}}
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
	if cfg.APIKey != "" {
		p.header.Set("X-Goog-Api-Key", cfg.APIKey)
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

// NewRequest translates req and builds the generateContent (or
// streamGenerateContent?alt=sse) request. Requests Gemini cannot take
// (an http(s) image, tool arguments that are not JSON) fail with a 400
// *openai.APIError before anything is sent.
func (p *Provider) NewRequest(ctx context.Context, req *openai.ChatRequest) (*http.Request, error) {
	body, err := translateRequest(req)
	if err != nil {
		return nil, err
	}
	u := p.base + "/models/" + url.PathEscape(req.Model) + ":generateContent"
	accept := "application/json"
	if req.Stream {
		u = p.base + "/models/" + url.PathEscape(req.Model) + ":streamGenerateContent?alt=sse"
		accept = "text/event-stream"
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header = p.header.Clone()
	hreq.Header.Set("Accept", accept)
	return hreq, nil
}
