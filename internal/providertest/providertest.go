// Package providertest is the conformance suite every built-in provider
// passes (and a custom one can run): requests carry the upstream model and
// the key, a non-2xx response becomes an *APIError with the upstream's
// status, a stream yields its content and usage, closes its body exactly
// once on every exit, and a stream cut short ends with an error.
package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"net/http"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// Provider is the provider contract (the root's Provider, restated here so
// the suite does not import the root package).
type Provider interface {
	Name() string
	NewRequest(ctx context.Context, req *openai.ChatRequest) (*http.Request, error)
	DecodeResponse(resp *http.Response) (*openai.ChatResponse, error)
	DecodeStream(resp *http.Response) iter.Seq2[*openai.ChatChunk, error]
	DecodeError(resp *http.Response) error
}

// Harness tells the suite how to build the provider under test against a
// fake upstream.
type Harness struct {
	Flavor testupstream.Flavor
	// New returns the provider configured for upstream's BaseURL and Key.
	New func(upstream *testupstream.Server) Provider
	// Sent reports the model and key a request carried to the upstream;
	// nil reads OpenAI's body "model" and bearer token.
	Sent func(r testupstream.Request) (model, key string)
}

func (h Harness) sent(r testupstream.Request) (string, string) {
	if h.Sent != nil {
		return h.Sent(r)
	}
	var body struct{ Model string }
	_ = json.Unmarshal(r.Body, &body)
	return body.Model, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Run("NonStream", func(t *testing.T) { nonStream(t, h) })
	t.Run("Stream", func(t *testing.T) { stream(t, h) })
	t.Run("StreamStopEarlyClosesBody", func(t *testing.T) { stopEarly(t, h) })
	t.Run("StreamCutIsAnError", func(t *testing.T) { cut(t, h) })
	t.Run("ErrorStatusBecomesAPIError", func(t *testing.T) { errorStatus(t, h) })
}

func roundTrip(t *testing.T, p Provider, stream bool) (*http.Response, *CountingBody) {
	t.Helper()
	req := &openai.ChatRequest{Model: "some-model", Stream: stream, Messages: []openai.Message{{Role: "user", Content: openai.TextContent("hi")}}}
	hreq, err := p.NewRequest(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	orig := resp.Body
	t.Cleanup(func() { orig.Close() })
	body := NewCountingBody(orig)
	resp.Body = body
	return resp, body
}

func nonStream(t *testing.T, h Harness) {
	up := testupstream.New(t, h.Flavor)
	p := h.New(up)
	resp, body := roundTrip(t, p, false)
	out, err := p.DecodeResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Choices[0].Message.Content.String(); got != "Hello world" {
		t.Errorf("content %q", got)
	}
	if u := out.Usage; u == nil || u.PromptTokens != 9 || u.CompletionTokens != 2 || u.TotalTokens != 11 {
		t.Errorf("usage %+v", out.Usage)
	}
	if n := body.Closes(); n != 1 {
		t.Errorf("body closed %d times, want 1", n)
	}
	if model, key := h.sent(up.Requests()[0]); model != "some-model" || key != up.Key {
		t.Errorf("upstream got model %q and key %q", model, key)
	}
}

func stream(t *testing.T, h Harness) {
	up := testupstream.New(t, h.Flavor)
	p := h.New(up)
	resp, body := roundTrip(t, p, true)
	var text strings.Builder
	var usage *openai.Usage
	for ch, err := range p.DecodeStream(resp) {
		if err != nil {
			t.Fatal(err)
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != nil {
				text.WriteString(*c.Delta.Content)
			}
		}
	}
	if text.String() != "Hello world" {
		t.Errorf("content %q", text.String())
	}
	if usage == nil || usage.PromptTokens+usage.CompletionTokens != usage.TotalTokens || usage.TotalTokens != 11 {
		t.Errorf("usage does not add up: %+v", usage)
	}
	if n := body.Closes(); n != 1 {
		t.Errorf("body closed %d times, want 1", n)
	}
}

func stopEarly(t *testing.T, h Harness) {
	up := testupstream.New(t, h.Flavor)
	p := h.New(up)
	resp, body := roundTrip(t, p, true)
	for range p.DecodeStream(resp) {
		break
	}
	if n := body.Closes(); n != 1 {
		t.Errorf("body closed %d times after the consumer stopped, want 1", n)
	}
}

func cut(t *testing.T, h Harness) {
	up := testupstream.New(t, h.Flavor)
	up.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c"}, CutAfter: 2})
	p := h.New(up)
	resp, body := roundTrip(t, p, true)
	var last error
	for _, err := range p.DecodeStream(resp) {
		last = err
	}
	if last == nil {
		t.Error("a stream cut before its end ended without an error")
	}
	if n := body.Closes(); n != 1 {
		t.Errorf("body closed %d times, want 1", n)
	}
}

func errorStatus(t *testing.T, h Harness) {
	for _, status := range []int{400, 401, 429, 500, 503} {
		up := testupstream.New(t, h.Flavor)
		up.Enqueue(testupstream.Reply{Status: status, RetryAfter: "7"})
		p := h.New(up)
		resp, body := roundTrip(t, p, false)
		if resp.StatusCode != status {
			t.Fatalf("fake sent %d", resp.StatusCode)
		}
		err := p.DecodeError(resp)
		var ae *openai.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("%d: got %T %v, want *APIError", status, err, err)
		}
		if ae.Status != status || ae.Message == "" || ae.RetryAfter != "7" {
			t.Errorf("%d: %+v", status, ae)
		}
		if n := body.Closes(); n != 1 {
			t.Errorf("body closed %d times, want 1", n)
		}
	}
}
