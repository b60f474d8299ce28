package llmbridge_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// A stream's upstream connection serves the next request, also when the
// upstream ends its body a moment after the stream's last event, which
// every relay and decoder stops reading at. Before, each such stream
// closed its connection there (net/http does not pool a connection whose
// body was closed unread), and the next request paid a new one: a TCP
// and TLS handshake to a real provider over HTTP/1.1.
func TestStreamKeepsUpstreamConnection(t *testing.T) {
	const chat = `{"stream":true,"messages":[{"role":"user","content":"hi"}],"model":`
	const messages = `{"stream":true,"max_tokens":64,"messages":[{"role":"user","content":"hi"}],"model":`
	for _, c := range []struct {
		name     string
		flavor   testupstream.Flavor
		provider func(llmbridge.ProviderConfig) llmbridge.Provider
		path     string
		body     string
		end      string
	}{
		{"chat passed through", testupstream.OpenAI, llmbridge.OpenAI, "/v1/chat/completions", chat + `"openai/gpt-4o"}`, "data: [DONE]"},
		{"Messages passed through", testupstream.Anthropic, llmbridge.Anthropic, "/v1/messages", messages + `"anthropic/claude-sonnet-4-5"}`, "message_stop"},
		{"Responses passed through", testupstream.OpenAI, llmbridge.OpenAI, "/v1/responses", `{"stream":true,"input":"hi","model":"openai/gpt-4o"}`, "response.completed"},
		{"chat from a Messages upstream", testupstream.Anthropic, llmbridge.Anthropic, "/v1/chat/completions", chat + `"anthropic/claude-sonnet-4-5"}`, "data: [DONE]"},
		{"Messages from a chat upstream", testupstream.OpenAI, llmbridge.OpenAI, "/v1/messages", messages + `"openai/gpt-4o"}`, "message_stop"},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := testupstream.New(t, c.flavor)
			up.EndLate = 5 * time.Millisecond
			b, err := llmbridge.New(llmbridge.WithProvider(c.provider(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(b)
			t.Cleanup(func() { srv.Close(); b.Close() })
			for range 5 {
				resp, err := http.Post(srv.URL+c.path, "application/json", strings.NewReader(c.body))
				if err != nil {
					t.Fatal(err)
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), c.end) {
					t.Fatalf("%s: %.300s", resp.Status, out)
				}
			}
			// A stream's end arrives EndLate after its last event, and the
			// bridge closed the connection when it had not read it; with
			// the end read, no connection closes (the next stream may take
			// another while the first's end is on its way).
			time.Sleep(up.EndLate + 100*time.Millisecond)
			if n := up.Closed(); n != 0 {
				t.Errorf("5 streams closed %d of %d upstream connections, want none", n, up.Conns())
			}
		})
	}
}

// oneInFlight admits one request at a time: a request that arrives before
// the previous one's ticket was settled is refused.
type oneInFlight struct{ n atomic.Int32 }

func (a *oneInFlight) Admit(context.Context, *llmbridge.Request) (llmbridge.Ticket, error) {
	if !a.n.CompareAndSwap(0, 1) {
		return nil, &llmbridge.APIError{Status: http.StatusTooManyRequests, Type: "requests", Code: "rate_limit_exceeded", Message: "one at a time"}
	}
	return a, nil
}

func (a *oneInFlight) Settle(llmbridge.UsageRecord) { a.n.Store(0) }

// Reading a stream's end does not hold up the call: its ticket is
// settled, and its client has its [DONE], without waiting for the
// upstream's end of the body (here later than the bridge waits for it).
// A client that sends its next request as soon as it has its [DONE] is
// admitted, where a limit of one request in flight refused it while the
// bridge waited.
func TestStreamEndDoesNotWaitForUpstream(t *testing.T) {
	for _, c := range []struct {
		name     string
		flavor   testupstream.Flavor
		provider func(llmbridge.ProviderConfig) llmbridge.Provider
		model    string
	}{
		{"passed through", testupstream.OpenAI, llmbridge.OpenAI, "openai/gpt-4o"},
		{"from a Messages upstream", testupstream.Anthropic, llmbridge.Anthropic, "anthropic/claude-sonnet-4-5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := testupstream.New(t, c.flavor)
			up.EndLate = 300 * time.Millisecond
			b, err := llmbridge.New(llmbridge.WithProvider(c.provider(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})),
				llmbridge.WithAdmitter(&oneInFlight{}))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(b)
			t.Cleanup(func() { srv.Close(); b.Close() })
			body := `{"stream":true,"messages":[{"role":"user","content":"hi"}],"model":"` + c.model + `"}`
			for i := range 3 {
				resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close() // read no further than [DONE]
				if resp.StatusCode != http.StatusOK {
					out, _ := io.ReadAll(resp.Body)
					t.Fatalf("stream %d: %s %.300s", i+1, resp.Status, out)
				}
				for sc := bufio.NewScanner(resp.Body); ; {
					if !sc.Scan() {
						t.Fatalf("stream %d ended without [DONE]: %v", i+1, sc.Err())
					}
					if sc.Text() == "data: [DONE]" {
						break
					}
				}
			}
		})
	}
}
