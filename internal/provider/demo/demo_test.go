package demo_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/demo"
	"github.com/llmbridge/llmbridge/providertest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConformance runs the provider conformance suite against the demo's
// client half, pointed at the suite's OpenAI fake: the same code that
// talks to the demo's own upstream.
func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		Wire: providertest.WireOpenAI,
		New: func(baseURL, key string) llmbridge.Provider {
			return demo.New(demo.Config{BaseURL: baseURL, APIKey: key})
		},
	})
}

// TestBuiltInUpstream sends requests through the provider to the upstream
// it starts itself, the way the Bridge does, from several goroutines, and
// checks that Close stops it.
func TestBuiltInUpstream(t *testing.T) {
	p := demo.New(demo.Config{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			text := strings.Repeat("word ", i) + "end"
			stream := i%2 == 0
			hreq, err := p.NewRequest(context.Background(), &openai.ChatRequest{Model: "echo", Stream: stream, Messages: []openai.Message{{Role: "user", Content: openai.TextContent(text)}}})
			if err != nil {
				t.Error(err)
				return
			}
			if !strings.HasPrefix(hreq.URL.String(), "http://127.0.0.1:") || !strings.HasPrefix(hreq.Header.Get("Authorization"), "Bearer demo-") {
				t.Errorf("request to %s", hreq.URL)
			}
			resp, err := httpClient.Do(hreq)
			if err != nil {
				t.Error(err)
				return
			}
			var got strings.Builder
			if stream {
				var usage *openai.Usage
				for ch, err := range p.DecodeStream(resp) {
					if err != nil {
						t.Error(err)
						return
					}
					if ch.Usage != nil {
						usage = ch.Usage
					}
					for _, c := range ch.Choices {
						if c.Delta.Content != nil {
							got.WriteString(*c.Delta.Content)
						}
					}
				}
				if usage == nil || usage.CompletionTokens == 0 {
					t.Errorf("stream usage %+v", usage)
				}
			} else {
				out, err := p.DecodeResponse(resp)
				if err != nil {
					t.Error(err)
					return
				}
				got.WriteString(out.Choices[0].Message.Content.String())
			}
			if got.String() != text {
				t.Errorf("echo %q, want %q", got.String(), text)
			}
		})
	}
	wg.Wait()

	hreq, _ := p.NewRequest(context.Background(), &openai.ChatRequest{Model: "error-429", Messages: []openai.Message{{Role: "user", Content: openai.TextContent("hi")}}})
	resp, err := httpClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	var ae *openai.APIError
	if err := p.DecodeError(resp); !errors.As(err, &ae) || ae.Status != 429 || ae.RetryAfter != "1" || ae.Code != "rate_limit_exceeded" || ae.Provider != "demo" {
		t.Errorf("error-429: %#v", err)
	}

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := p.NewRequest(context.Background(), &openai.ChatRequest{Model: "echo"}); err == nil {
		t.Error("a request after Close was built")
	}
	httpClient.CloseIdleConnections()
}

func TestCloseUnstarted(t *testing.T) {
	p := demo.New(demo.Config{Name: "try"})
	if err := p.Close(); err != nil || p.Name() != "try" || p.OwnedBy() != "llmbridge-demo" || strings.Join(p.Models(), ",") != "echo,error-429,error-500" {
		t.Errorf("%v %s %s %v", err, p.Name(), p.OwnedBy(), p.Models())
	}
	if err := demo.New(demo.Config{BaseURL: "ftp://x"}).Validate(); err == nil {
		t.Error("ftp base URL accepted")
	}
}

var httpClient = &http.Client{Transport: &http.Transport{}}
