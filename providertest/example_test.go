package providertest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/providertest"
)

// chatProvider is a provider as an author outside this module would write
// it, with the public API only (net/http, encoding/json and the llmbridge
// types): a thin client of an upstream that speaks OpenAI's Chat
// Completions wire format, such as a self-hosted model server.
type chatProvider struct {
	name, baseURL, key string
}

var _ llmbridge.Provider = (*chatProvider)(nil)

func (p *chatProvider) Name() string { return p.name }

// NewRequest posts the request to {baseURL}/chat/completions with the key
// as a bearer token, asking a stream for its usage.
func (p *chatProvider) NewRequest(ctx context.Context, req *llmbridge.ChatRequest) (*http.Request, error) {
	r := *req // the caller's request is not ours to change
	if r.Stream {
		so := llmbridge.StreamOptions{}
		if r.StreamOptions != nil {
			so = *r.StreamOptions
		}
		so.IncludeUsage = true
		r.StreamOptions = &so
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(p.baseURL, "/")+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Authorization", "Bearer "+p.key)
	return hreq, nil
}

func (p *chatProvider) DecodeResponse(resp *http.Response) (*llmbridge.ChatResponse, error) {
	defer resp.Body.Close()
	var out llmbridge.ChatResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("%s: decoding the response: %w", p.name, err)
	}
	return &out, nil
}

// DecodeStream yields the chunks of "data: {json}" events until
// "data: [DONE]"; a body that ends before [DONE] ends the stream with an
// error. The deferred Close runs on every exit, including a consumer that
// stops ranging early.
func (p *chatProvider) DecodeStream(resp *http.Response) iter.Seq2[*llmbridge.ChatChunk, error] {
	return func(yield func(*llmbridge.ChatChunk, error) bool) {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data:")
			if !ok {
				continue // blank lines between events, ": comments"
			}
			data = strings.TrimSpace(data)
			if data == "[DONE]" {
				return
			}
			var ch llmbridge.ChatChunk
			if err := json.Unmarshal([]byte(data), &ch); err != nil {
				yield(nil, fmt.Errorf("%s: decoding a chunk: %w", p.name, err))
				return
			}
			if !yield(&ch, nil) {
				return
			}
		}
		err := sc.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		yield(nil, fmt.Errorf("%s: stream ended before [DONE]: %w", p.name, err))
	}
}

// DecodeError keeps the upstream's status, message and Retry-After.
func (p *chatProvider) DecodeError(resp *http.Response) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &llmbridge.APIError{Status: resp.StatusCode, Type: llmbridge.ErrorTypeUpstream, Provider: p.name,
		RetryAfter: resp.Header.Get("Retry-After")}
	var body struct {
		Error struct{ Message, Type string }
	}
	if json.Unmarshal(b, &body) == nil && body.Error.Message != "" {
		e.Message = body.Error.Message
		if body.Error.Type != "" {
			e.Type = body.Error.Type
		}
	} else {
		e.Message = fmt.Sprintf("%s returned HTTP %d", p.name, resp.StatusCode)
	}
	return e
}

// TestCustomProvider runs the conformance suite against chatProvider the
// way a custom provider's own test would.
func TestCustomProvider(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		Wire: providertest.WireOpenAI,
		New: func(baseURL, key string) llmbridge.Provider {
			return &chatProvider{name: "custom", baseURL: baseURL, key: key}
		},
	})
}
