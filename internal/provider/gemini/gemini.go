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
	"net/http"
	"net/url"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
)

// Config describes a Gemini upstream; BaseURL is the API root, e.g.
// https://generativelanguage.googleapis.com/v1beta.
type Config = endpoint.Config

// Provider talks to Gemini's native API. It is immutable and safe for
// concurrent use.
type Provider struct {
	endpoint.Endpoint
}

// New returns a Provider for cfg; configuration errors are reported by
// Validate. The key goes in x-goog-api-key, never in the URL.
func New(cfg Config) *Provider {
	return &Provider{endpoint.New(cfg, func(h http.Header, key string) { h.Set("X-Goog-Api-Key", key) })}
}

// NewRequest translates req and builds the generateContent (or
// streamGenerateContent?alt=sse) request. Requests Gemini cannot take
// (an http(s) image, tool arguments that are not JSON) fail with a 400
// *openai.APIError before anything is sent.
func (p *Provider) NewRequest(ctx context.Context, req *openai.ChatRequest) (*http.Request, error) {
	body, err := translateRequest(req)
	if err != nil {
		return nil, err
	}
	u := p.Base() + "/models/" + url.PathEscape(req.Model) + ":generateContent"
	accept := "application/json"
	if req.Stream {
		u = p.Base() + "/models/" + url.PathEscape(req.Model) + ":streamGenerateContent?alt=sse"
		accept = "text/event-stream"
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header = p.Header()
	hreq.Header.Set("Accept", accept)
	return hreq, nil
}
