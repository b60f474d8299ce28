package llmbridge_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// quota is an Admitter that lets each key make a fixed number of requests
// and counts the tokens they used.
type quota struct {
	mu     sync.Mutex
	left   map[string]int
	tokens map[string]int
}

func (q *quota) Admit(_ context.Context, r *llmbridge.Request) (llmbridge.Ticket, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.left[r.KeyID] <= 0 {
		return nil, &llmbridge.APIError{Status: http.StatusTooManyRequests, Type: "rate_limit_error", Code: "quota_exceeded",
			Message: "this key has used its requests", RetryAfter: "3600"}
	}
	q.left[r.KeyID]--
	return llmbridge.TicketFunc(func(rec llmbridge.UsageRecord) {
		q.mu.Lock()
		q.tokens[rec.KeyID] += rec.TotalTokens
		q.mu.Unlock()
	}), nil
}

// An Admitter runs after the access keys: it sees who is calling (KeyID)
// and what they ask for before any upstream work, and settles the ticket
// with the real usage.
func ExampleWithAdmitter() {
	upstream := testupstream.Start(testupstream.OpenAI)
	defer upstream.Close()
	id := llmbridge.KeyID("client-key")
	q := &quota{left: map[string]int{id: 1}, tokens: map[string]int{}}
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: upstream.BaseURL(), APIKey: upstream.Key})),
		llmbridge.WithAccessKeys("client-key"),
		llmbridge.WithAdmitter(q),
	)
	if err != nil {
		panic(err)
	}
	defer b.Close()
	for range 2 {
		rec := post(b, "client-key", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"Hi"}]}`)
		fmt.Println(strings.TrimSpace(fmt.Sprint(rec.Code, " ", rec.Header().Get("Retry-After"))))
	}
	fmt.Println("tokens used:", q.tokens[id])
	// Output:
	// 200
	// 429 3600
	// tokens used: 11
}

// A Router maps a model name to the targets to try in order: here "smart"
// goes to DeepSeek and falls over to OpenAI when DeepSeek is overloaded.
func ExampleWithRouter() {
	deepseek := testupstream.Start(testupstream.DeepSeek)
	defer deepseek.Close()
	openai := testupstream.Start(testupstream.OpenAI)
	defer openai.Close()
	routes := map[string][]llmbridge.Target{
		"smart": {{Provider: "deepseek", Model: "deepseek-chat"}, {Provider: "openai", Model: "gpt-4o"}},
	}
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.DeepSeek(llmbridge.ProviderConfig{BaseURL: deepseek.BaseURL(), APIKey: deepseek.Key})),
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: openai.BaseURL(), APIKey: openai.Key})),
		llmbridge.WithRouter(llmbridge.RouterFunc(func(_ context.Context, r *llmbridge.Request) ([]llmbridge.Target, error) {
			if t, ok := routes[r.Model]; ok {
				return t, nil
			}
			return nil, &llmbridge.APIError{Status: 404, Type: llmbridge.ErrorTypeInvalidRequest, Code: "model_not_found", Message: "no route " + r.Model}
		})),
		llmbridge.WithUsageSink(func(rec llmbridge.UsageRecord) {
			fmt.Printf("%s → %s/%s after %d retries\n", rec.Model, rec.Provider, rec.UpstreamModel, rec.Retries)
		}),
	)
	if err != nil {
		panic(err)
	}
	defer b.Close()
	deepseek.Enqueue(testupstream.Reply{Status: 503})
	rec := post(b, "", `{"model":"smart","messages":[{"role":"user","content":"Hi"}]}`)
	fmt.Println(rec.Code)
	// Output:
	// smart → openai/gpt-4o after 1 retries
	// 200
}

// span is an observer of every moment of a request.
type span struct{}

func (span) Start(r llmbridge.UsageRecord) {
	fmt.Println("start", r.Format, r.Model, "→", r.Provider)
}
func (span) FirstByte(r llmbridge.UsageRecord) {
	fmt.Println("first byte after", map[bool]string{true: "some time", false: "no time"}[r.TTFT > 0])
}
func (span) End(r llmbridge.UsageRecord) { fmt.Println("end", r.Status, r.TotalTokens, "tokens") }

// An Observer that also implements StartObserver and FirstByteObserver is
// told of each moment of a request; it must return quickly.
func ExampleWithObserver() {
	upstream := testupstream.Start(testupstream.OpenAI)
	defer upstream.Close()
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: upstream.BaseURL(), APIKey: upstream.Key})),
		llmbridge.WithObserver(span{}),
	)
	if err != nil {
		panic(err)
	}
	defer b.Close()
	post(b, "", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"Hi"}],"stream":true}`)
	// Output:
	// start chat openai/gpt-4o → openai
	// first byte after some time
	// end 200 11 tokens
}

// post sends a chat request to the handler directly.
func post(h http.Handler, key, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req, _ := http.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	h.ServeHTTP(rec, req)
	return rec
}
