package llmbridge_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// TestStreamEndNotHeldByClosingWork: a stream's last event is written
// unflushed, to go out with the response's end once the call's closing
// work is done; work that takes long (here an observer that waits until
// the client has the last event) must not hold it back.
func TestStreamEndNotHeldByClosingWork(t *testing.T) {
	up := testupstream.New(t, testupstream.OpenAI)
	got := make(chan struct{})
	held := make(chan time.Duration, 1)
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})),
		llmbridge.WithObserver(llmbridge.ObserverFunc(func(llmbridge.UsageRecord) {
			start := time.Now()
			select {
			case <-got:
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
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"openai/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	done := false
	for sc.Scan() {
		if sc.Text() == "data: [DONE]" {
			done = true
			close(got)
			break
		}
	}
	if !done {
		t.Fatalf("no [DONE] (scan error %v)", sc.Err())
	}
	if d := <-held; d >= 10*time.Second {
		t.Fatalf("the client got [DONE] only after the closing work gave up waiting for it (%v)", d)
	}
}
