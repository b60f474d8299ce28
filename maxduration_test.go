package llmbridge_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
)

// Timeouts.MaxDuration bounds a whole request: a stream that never falls
// silent (so StreamIdle never fires) is ended with an error event once
// it is reached, and a non-streamed answer that would come within
// NonStream gets a 504. Either way the upstream request is cancelled and
// the record says why.
func TestMaxDurationBoundsTheWholeRequest(t *testing.T) {
	cancelled := make(chan struct{}, 8)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		defer func() {
			select {
			case cancelled <- struct{}{}:
			default: // a retry's handler never blocks the server's Close
			}
		}()
		if !strings.Contains(string(body), `"stream":true`) || strings.Contains(string(body), "silent") {
			<-r.Context().Done() // an answer (or a stream's headers) slower than MaxDuration, well within NonStream (Header)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			fmt.Fprintf(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%d \"}}]}\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
		}
	}))
	defer up.Close()
	var mu sync.Mutex
	var recs []llmbridge.UsageRecord
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "up", BaseURL: up.URL, Models: []string{"m"}})),
		llmbridge.WithTimeouts(llmbridge.Timeouts{MaxDuration: 400 * time.Millisecond, StreamIdle: 10 * time.Second, Header: 10 * time.Second, NonStream: 10 * time.Second}),
		llmbridge.WithUsageSink(func(r llmbridge.UsageRecord) { mu.Lock(); recs = append(recs, r); mu.Unlock() }),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	front := httptest.NewServer(b)
	defer front.Close()
	client := &http.Client{Timeout: 10 * time.Second} // a request MaxDuration does not end fails here, not by hanging
	for _, tc := range []struct {
		stream, silent bool // silent: the upstream never sends its headers
	}{{true, false}, {false, false}, {true, true}} {
		stream := tc.stream
		content := "x"
		if tc.silent {
			content = "silent"
		}
		started := time.Now()
		resp, err := client.Post(front.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"up/m","messages":[{"role":"user","content":"`+content+`"}],"stream":`+fmt.Sprint(stream)+`}`))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("stream=%v: %v", stream, err)
		}
		took := time.Since(started)
		if took < 400*time.Millisecond || took > 5*time.Second {
			t.Errorf("stream=%v: ended after %v, want soon after MaxDuration (400ms)", stream, took)
		}
		errJSON := string(body)
		if stream && !tc.silent {
			evs := dataEvents(string(body))
			if resp.StatusCode != 200 || len(evs) < 3 || strings.Contains(string(body), "[DONE]") {
				t.Fatalf("stream: status %d, %d events, body ends %q", resp.StatusCode, len(evs), body[max(0, len(body)-200):])
			}
			errJSON = evs[len(evs)-1]
		} else if resp.StatusCode != http.StatusGatewayTimeout { // nothing was sent yet: a status of its own
			t.Fatalf("stream=%v silent=%v: status %d body %s", stream, tc.silent, resp.StatusCode, body)
		}
		if e := errorBody(t, errJSON); e["code"] != "upstream_timeout" || !strings.Contains(fmt.Sprint(e["message"]), "maximum request duration") {
			t.Errorf("stream=%v: error %s, want upstream_timeout for the maximum request duration", stream, errJSON)
		}
		select {
		case <-cancelled:
		case <-time.After(5 * time.Second):
			t.Fatalf("stream=%v: the upstream request went on past MaxDuration", stream)
		}
	}
	// In process: the same error, as an *APIError.
	_, err = b.ChatCompletion(context.Background(), &llmbridge.ChatRequest{Model: "up/m",
		Messages: []llmbridge.Message{{Role: "user", Content: llmbridge.TextContent("x")}}})
	var ae *llmbridge.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusGatewayTimeout || ae.Code != "upstream_timeout" || !strings.Contains(ae.Message, "maximum request duration") {
		t.Errorf("in process: %v", err)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("in process: the upstream request went on past MaxDuration")
	}
	const calls = 4
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(recs)
		mu.Unlock()
		if n == calls || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(recs) != calls {
		t.Fatalf("%d records, want %d", len(recs), calls)
	}
	for _, r := range recs {
		status := http.StatusGatewayTimeout // a stream's is the 200 it began with; its error says how it ended
		if r.Stream && r.TTFT > 0 {
			status = http.StatusOK
		}
		if r.Status != status || !strings.Contains(r.Error, "maximum request duration") {
			t.Errorf("record stream=%v: status %d error %q", r.Stream, r.Status, r.Error)
		}
	}
}
