package openai

import (
	"bytes"
	"context"
	"net/http"

	"github.com/tidwall/sjson"
)

// Responses is a Provider whose upstream also serves OpenAI's Responses
// API at {base}/responses (OpenAI itself; most OpenAI-compatible vendors
// do not). It is immutable and safe for concurrent use.
type Responses struct {
	*Provider
	responsesURL string
}

// NewResponses returns a Provider for cfg that also passes Responses API
// requests through (NewRawResponsesRequest).
func NewResponses(cfg Config) *Responses {
	p := New(cfg)
	return &Responses{Provider: p, responsesURL: p.Base() + "/responses"}
}

// NewRawResponsesRequest builds POST {base}/responses from the client's
// Responses API body with only "model" replaced: every other member
// (store, include, previous_response_id, reasoning.encrypted_content,
// hosted tools, …) goes upstream byte for byte. The request carries the
// provider's key and headers, never the client's.
func (p *Responses) NewRawResponsesRequest(ctx context.Context, body []byte, model string, stream bool) (*http.Request, error) {
	return p.rawRequest(ctx, p.responsesURL, body, model, stream)
}

// NewRawEmbeddingsRequest builds POST {base}/embeddings from the client's
// OpenAI embeddings body with only "model" replaced.
func (p *Provider) NewRawEmbeddingsRequest(ctx context.Context, body []byte, model string) (*http.Request, error) {
	return p.rawRequest(ctx, p.Base()+"/embeddings", body, model, false)
}

// rawRequest posts body, its model set, to url with the provider's
// headers.
func (p *Provider) rawRequest(ctx context.Context, url string, body []byte, model string, stream bool) (*http.Request, error) {
	out, err := sjson.SetBytes(body, "model", model)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(out))
	if err != nil {
		return nil, err
	}
	req.Header = p.Header()
	if stream {
		req.Header.Set("Accept", "text/event-stream")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	return req, nil
}
