package llmbridge_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// TestStreamEndNotHeldByClosingWork: a stream's last event is written
// unflushed, to go out with the response's end once the call's closing
// work is done; work that takes long (here an observer that waits until
// the client has the last event) must not hold it back. Chat, Messages
// and Responses streams alike.
func TestStreamEndNotHeldByClosingWork(t *testing.T) {
	up := testupstream.New(t, testupstream.OpenAI)
	var mu sync.Mutex
	got := make(chan struct{}) // closed when the client has the last event; one per request
	current := func() chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	held := make(chan time.Duration, 1)
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})),
		llmbridge.WithObserver(llmbridge.ObserverFunc(func(llmbridge.UsageRecord) {
			start := time.Now()
			select {
			case <-current():
			case <-time.After(10 * time.Second):
			}
			held <- time.Since(start)
		})))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	defer b.Close()
	// The last event of each client format: chat's [DONE], and Messages'
	// and Responses' (translated from the chat upstream) end events.
	for _, c := range []struct{ path, body, last string }{
		{"/v1/chat/completions", `{"model":"openai/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "data: [DONE]"},
		{"/v1/messages", `{"model":"openai/gpt-4o-mini","stream":true,"max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`, "event: message_stop"},
		{"/v1/responses", `{"model":"openai/gpt-4o-mini","stream":true,"input":"hi"}`, "event: response.completed"},
	} {
		mu.Lock()
		got = make(chan struct{})
		mu.Unlock()
		resp, err := http.Post(srv.URL+c.path, "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		done := false
		for sc.Scan() {
			if sc.Text() == c.last {
				done = true
				close(current())
				break
			}
		}
		resp.Body.Close()
		if !done {
			t.Fatalf("%s: no %q (scan error %v)", c.path, c.last, sc.Err())
		}
		if d := <-held; d >= 10*time.Second {
			t.Fatalf("%s: the client got its last event only after the closing work gave up waiting for it (%v)", c.path, d)
		}
	}
}
