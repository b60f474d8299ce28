// Package openai is the adapter for upstreams that speak the OpenAI Chat
// Completions wire format: OpenAI, DeepSeek, Gemini's OpenAI-compatibility
// endpoint and any OpenAI-compatible vendor.
//
// A Provider forwards the client's request body with only the model and the
// stream usage option rewritten (NewRawRequest), so the bridge can relay the
// upstream's bytes unchanged. The typed methods (NewRequest, DecodeResponse,
// DecodeStream) serve in-process callers. Compat wraps a Provider with the
// fix-ups Gemini's compatibility endpoint needs and relays through the typed
// path only.
package openai

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/sse"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// maxErrorBytes bounds how much of an error body is read.
const maxErrorBytes = 1 << 20

// Config describes one OpenAI-compatible upstream; BaseURL is the API root
// to which /chat/completions is appended.
type Config = endpoint.Config

// Provider talks to one OpenAI-compatible upstream. It is immutable and safe
// for concurrent use.
type Provider struct {
	endpoint.Endpoint
	chatURL string
}

// New returns a Provider for cfg. Configuration errors are reported by
// Validate rather than here, so callers can collect them all.
func New(cfg Config) *Provider {
	e := endpoint.New(cfg, func(h http.Header, key string) { h.Set("Authorization", "Bearer "+key) })
	return &Provider{Endpoint: e, chatURL: e.Base() + "/chat/completions"}
}

func (p *Provider) newRequest(ctx context.Context, body []byte, stream bool) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.chatURL, bytes.NewReader(body))
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

// NewRawRequest builds the upstream request from the client's JSON body,
// replacing only "model" and, for streams, setting
// stream_options.include_usage so usage can always be accounted.
func (p *Provider) NewRawRequest(ctx context.Context, body []byte, model string, stream bool) (*http.Request, error) {
	out, err := RewriteBody(body, model, stream)
	if err != nil {
		return nil, err
	}
	return p.newRequest(ctx, out, stream)
}

// RewriteBody sets "model" and, when stream is true, forces
// stream_options.include_usage in an OpenAI request body, leaving every
// other byte alone. The output is sjson's (FuzzRewriteBody holds the two
// equal), made in one copy of the body (rewriteInOne) for a body that
// has a "model" (every body the bridge passes through does).
func RewriteBody(body []byte, model string, stream bool) ([]byte, error) {
	if out, ok := rewriteInOne(body, model, stream); ok {
		return out, nil
	}
	return rewriteSJSON(body, model, stream)
}

// rewriteSJSON is RewriteBody by sjson: a copy of the body per change.
func rewriteSJSON(body []byte, model string, stream bool) ([]byte, error) {
	out, err := sjson.SetBytes(body, "model", model)
	if err != nil {
		return nil, err
	}
	if !stream {
		return out, nil
	}
	if so := gjson.GetBytes(out, "stream_options"); so.Exists() && !so.IsObject() {
		out, err = sjson.SetRawBytes(out, "stream_options", []byte(`{"include_usage":true}`))
	} else {
		out, err = sjson.SetRawBytes(out, "stream_options.include_usage", []byte("true"))
	}
	return out, err
}

// NewRequest builds the upstream request from a typed request whose Model
// is already the upstream model name.
func (p *Provider) NewRequest(ctx context.Context, req *openai.ChatRequest) (*http.Request, error) {
	body, err := MarshalRequest(req)
	if err != nil {
		return nil, err
	}
	return p.newRequest(ctx, body, req.Stream)
}

// MarshalRequest encodes a typed request for an OpenAI-format upstream,
// asking a stream for its usage (stream_options.include_usage), which the
// bridge meters; the client's own choice is applied on the way back
// (openai.SplitUsage).
func MarshalRequest(req *openai.ChatRequest) ([]byte, error) {
	r := *req
	if r.Stream {
		so := openai.StreamOptions{}
		if r.StreamOptions != nil {
			so = *r.StreamOptions
		}
		so.IncludeUsage = true
		r.StreamOptions = &so
	}
	return openai.Marshal(r)
}

// DecodeResponse decodes a non-streamed 2xx response and closes its body.
func (p *Provider) DecodeResponse(resp *http.Response) (*openai.ChatResponse, error) {
	defer resp.Body.Close()
	body, err := openai.ReadResponseBody(resp.Body)
	if err != nil {
		return nil, err
	}
	var out openai.ChatResponse
	if err := openai.UnmarshalResponse(body, &out); err != nil {
		return nil, fmt.Errorf("decoding upstream response: %w", err)
	}
	return &out, nil
}

// errTruncated ends a stream the upstream closed without its final
// "data: [DONE]".
var errTruncated = openai.Truncated("no [DONE]")

// DecodeStream yields the chunks of a 2xx SSE response. It owns resp.Body
// and closes it on every exit. A stream cut before [DONE] ends with
// openai.ErrTruncated; an upstream error event ends it with that *APIError.
func (p *Provider) DecodeStream(resp *http.Response) iter.Seq2[*openai.ChatChunk, error] {
	return func(yield func(*openai.ChatChunk, error) bool) {
		finished := false // EndBody took the body over
		defer func() {
			if !finished {
				resp.Body.Close()
			}
		}()
		r := sse.NewReader(resp.Body)
		defer r.Release()
		var dec openai.ChunkDecoder
		for {
			ev, err := r.Next()
			if err != nil {
				if err == io.EOF {
					err = errTruncated
				}
				yield(nil, err)
				return
			}
			if bytes.Equal(ev.Data, sse.Done) {
				finished = true
				endpoint.EndBody(resp.Body) // read to its end, which keeps the connection
				return
			}
			if mayBeError(ev.Data) && openai.InspectChunk(ev.Data, nil).Error {
				// An upstream error event mid-stream; 502 is only the status
				// recorded for it, the client already has its 200.
				yield(nil, p.parseError(http.StatusBadGateway, ev.Data))
				return
			}
			c, err := dec.Decode(ev.Data)
			if err != nil {
				yield(nil, fmt.Errorf("decoding upstream chunk: %w", err))
				return
			}
			if !yield(c, nil) {
				return
			}
		}
	}
}

// mayBeError reports whether data may have a top-level "error" member,
// so that the usual chunk skips InspectChunk's scan: the member's name is
// in data as it is, or spelled with a \u escape.
func mayBeError(data []byte) bool {
	return bytes.Contains(data, []byte(`"error"`)) || bytes.Contains(data, []byte(`\u`))
}

// DecodeError turns a non-2xx response into an *openai.APIError that keeps
// the upstream's status, message, type, param, code and Retry-After. It
// closes the body.
func (p *Provider) DecodeError(resp *http.Response) error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	e := p.parseError(resp.StatusCode, body)
	e.RetryAfter = resp.Header.Get("Retry-After")
	return e
}

// parseError understands OpenAI's {"error":{…}}, Google's
// {"error":{"code","message","status"}} and its array form, {"error":"…"}
// and {"message":"…"}; anything else becomes a short text message.
func (p *Provider) parseError(status int, body []byte) *openai.APIError {
	e := &openai.APIError{Status: status, Provider: p.Name()}
	root := gjson.ParseBytes(bytes.TrimSpace(body))
	if root.IsArray() {
		root = root.Get("0")
	}
	obj := root.Get("error")
	switch {
	case obj.IsObject():
		e.Message = obj.Get("message").String()
		e.Type = obj.Get("type").String()
		e.Param = scalar(obj.Get("param"))
		e.Code = scalar(obj.Get("code"))
		if st := obj.Get("status").String(); st != "" && e.Type == "" {
			e.Type = st // Google's status name, e.g. INVALID_ARGUMENT
		}
	case obj.Type == gjson.String:
		e.Message = obj.Str
	case root.Get("message").Type == gjson.String:
		e.Message = root.Get("message").Str
	}
	if e.Message == "" {
		text := strings.TrimSpace(string(body))
		if len(text) > 200 {
			text = text[:200] + "…"
		}
		if text == "" {
			text = http.StatusText(status)
		}
		e.Message = fmt.Sprintf("upstream %s returned HTTP %d: %s", p.Name(), status, text)
	}
	if e.Type == "" {
		e.Type = openai.TypeUpstream
		if status < 500 {
			e.Type = openai.TypeInvalidRequest
		}
	}
	e.Message, e.Param = p.Redact(e.Message), p.Redact(e.Param)
	e.Type, e.Code = p.Redact(e.Type), p.Redact(e.Code)
	return e
}

func scalar(r gjson.Result) string {
	switch r.Type {
	case gjson.String:
		return r.Str
	case gjson.Number:
		return r.Raw
	}
	return ""
}
