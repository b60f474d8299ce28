// Package anthropic is the adapter for Anthropic's Messages API
// (POST {base}/messages, streaming with named SSE events). OpenAI-shaped
// requests are translated to Messages requests and responses and events
// back to OpenAI chunks: thinking becomes reasoning_content (its signature
// travels in a "reasoning_signature" member that clients keeping unknown
// fields send back), tool_use blocks become tool calls, stop reasons and
// usage (cache reads and writes counted in the prompt) are mapped.
//
// The inbound direction lives here too, for clients that speak the
// Messages API to the bridge: CheckEnvelope and DecodeMessages turn a
// Messages request into the canonical Chat request, EncodeMessage and
// StreamEncoder turn Chat answers back into a Messages response and event
// sequence, and NewRawMessagesRequest, NewRawCountTokensRequest, UsageOf
// and StreamUsage serve the pass-through to an Anthropic upstream.
package anthropic

import (
	"bytes"
	"context"
	"net/http"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
)

// Version is the anthropic-version header sent with every request.
const Version = "2023-06-01"

// Config describes an Anthropic upstream; BaseURL is the API root, e.g.
// https://api.anthropic.com/v1, to which /messages is appended.
type Config = endpoint.Config

// Provider talks to the Messages API. It is immutable and safe for
// concurrent use.
type Provider struct {
	endpoint.Endpoint
	url string
}

// New returns a Provider for cfg; configuration errors are reported by
// Validate.
func New(cfg Config) *Provider {
	e := endpoint.New(cfg, func(h http.Header, key string) { h.Set("X-Api-Key", key) })
	return &Provider{Endpoint: e, url: e.Base() + "/messages"}
}

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
	hreq.Header = p.Header()
	hreq.Header.Set("Anthropic-Version", Version)
	if req.Stream {
		hreq.Header.Set("Accept", "text/event-stream")
	}
	return hreq, nil
}
