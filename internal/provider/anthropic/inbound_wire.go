package anthropic

import (
	"bytes"
	"context"
	"net/http"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// NewRawMessagesRequest builds POST {base}/messages carrying a client's
// Messages body unchanged but for "model" (every other byte, unknown
// members included, passes). The client's anthropic-version (Version when
// it sent none) and anthropic-beta headers go along; its credentials never
// do: the request carries the provider's key and configured headers. client
// may be nil. body is not modified.
func (p *Provider) NewRawMessagesRequest(ctx context.Context, body []byte, model string, stream bool, client http.Header) (*http.Request, error) {
	return p.rawRequest(ctx, p.url, body, model, stream, client)
}

// NewRawCountTokensRequest builds POST {base}/messages/count_tokens the
// same way as NewRawMessagesRequest.
func (p *Provider) NewRawCountTokensRequest(ctx context.Context, body []byte, model string, client http.Header) (*http.Request, error) {
	return p.rawRequest(ctx, p.url+"/count_tokens", body, model, false, client)
}

func (p *Provider) rawRequest(ctx context.Context, url string, body []byte, model string, stream bool, client http.Header) (*http.Request, error) {
	if gjson.GetBytes(body, "model").Str != model {
		var err error
		if body, err = sjson.SetBytes(body, "model", model); err != nil {
			return nil, err
		}
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header = p.Header()
	version := client.Get("Anthropic-Version")
	if version == "" {
		version = Version
	}
	hreq.Header.Set("Anthropic-Version", version)
	for _, b := range client.Values("Anthropic-Beta") {
		hreq.Header.Add("Anthropic-Beta", b)
	}
	if stream {
		hreq.Header.Set("Accept", "text/event-stream")
	}
	return hreq, nil
}

// UsageOf maps a Messages usage object (raw JSON) to canonical usage:
// cache reads and writes are part of the prompt, cache reads are cached
// tokens, cache writes cache_write_tokens.
func UsageOf(raw []byte) *openai.Usage {
	var u usageJSON
	u.merge(raw)
	return u.usage()
}

// merge takes the counts present in raw, leaving the others.
func (u *usageJSON) merge(raw []byte) {
	r := gjson.GetManyBytes(raw, "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
	for i, dst := range []*int{&u.InputTokens, &u.OutputTokens, &u.CacheCreationInputTokens, &u.CacheReadInputTokens} {
		if r[i].Type == gjson.Number {
			*dst = int(r[i].Int())
		}
	}
}

// StreamUsage reads the usage of a relayed Messages stream as Anthropic's
// own accumulator does: message_start's message.usage, then every count
// that a message_delta's (cumulative) usage carries overwrites it. The zero
// value is ready; it is not safe for concurrent use.
type StreamUsage struct {
	u    usageJSON
	seen bool
}

// Observe looks at one event's data and reports its type.
func (s *StreamUsage) Observe(data []byte) (eventType string) {
	r := gjson.GetManyBytes(data, "type", "message.usage", "usage")
	switch r[0].Str {
	case "message_start":
		if r[1].IsObject() {
			s.u.merge([]byte(r[1].Raw))
			s.seen = true
		}
	case "message_delta":
		if r[2].IsObject() {
			s.u.merge([]byte(r[2].Raw))
			s.seen = true
		}
	}
	return r[0].Str
}

// Usage returns the usage seen, or nil when no event carried any.
func (s *StreamUsage) Usage() *openai.Usage {
	if !s.seen {
		return nil
	}
	return s.u.usage()
}
