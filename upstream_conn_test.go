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
			up, srv := lateEndFront(t, c.flavor, c.provider, 5*time.Millisecond)
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

// lateEndFront is a Bridge (with opts) in front of a fake of flavor that
// ends every answer's body late after its last event (EndLate).
func lateEndFront(t *testing.T, flavor testupstream.Flavor, provider func(llmbridge.ProviderConfig) llmbridge.Provider, late time.Duration,
	opts ...llmbridge.Option) (*testupstream.Server, *httptest.Server) {
	up := testupstream.New(t, flavor)
	up.EndLate = late
	b, err := llmbridge.New(append(opts, llmbridge.WithProvider(provider(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})))...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { srv.Close(); b.Close() })
	return up, srv
}

// oneInFlight admits one request at a time: a request that arrives while
// the previous one's ticket is not settled waits 20 ms for it, and is
// refused after. (The client has the chat stream's [DONE] at the latest
// 1 ms after the call's closing work began, streamWriter.end; the wait
// keeps a slow settlement under -race from failing the test, and is
// shorter than FinishWait, which a settlement after the body's end took.)
type oneInFlight struct{ slot chan struct{} }

func (a *oneInFlight) Admit(context.Context, *llmbridge.Request) (llmbridge.Ticket, error) {
	select {
	case a.slot <- struct{}{}:
		return a, nil
	case <-time.After(20 * time.Millisecond):
		return nil, &llmbridge.APIError{Status: http.StatusTooManyRequests, Type: "requests", Code: "rate_limit_exceeded", Message: "one at a time"}
	}
}

func (a *oneInFlight) Settle(llmbridge.UsageRecord) { <-a.slot }

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
			_, srv := lateEndFront(t, c.flavor, c.provider, 300*time.Millisecond, llmbridge.WithAdmitter(&oneInFlight{slot: make(chan struct{}, 1)}))
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

// wrappingObserver wraps every answer's body in a reader of its own,
// without EndStream, as an AttemptObserver of another package may.
type wrappingObserver struct{ closes atomic.Int32 }

type countingClose struct {
	io.ReadCloser
	n *atomic.Int32
}

func (c countingClose) Close() error { c.n.Add(1); return c.ReadCloser.Close() }

func (o *wrappingObserver) End(llmbridge.UsageRecord) {}

func (o *wrappingObserver) Attempt(_ *http.Request, _ llmbridge.UsageRecord) func(*http.Response, error) {
	return func(resp *http.Response, err error) {
		if err == nil {
			resp.Body = countingClose{resp.Body, &o.closes}
		}
	}
}

// An observer's wrapper that knows nothing of EndStream still has its
// body closed once per stream, and the connection is still kept (the end
// is read through it, in the call).
func TestStreamEndThroughForeignWrapper(t *testing.T) {
	o := &wrappingObserver{}
	up, srv := lateEndFront(t, testupstream.OpenAI, llmbridge.OpenAI, 5*time.Millisecond, llmbridge.WithObserver(o))
	for range 5 {
		resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"stream":true,"messages":[{"role":"user","content":"hi"}],"model":"openai/gpt-4o"}`))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(out), "data: [DONE]") {
			t.Fatalf("%s %.300s", resp.Status, out)
		}
	}
	time.Sleep(up.EndLate + 100*time.Millisecond)
	if n := o.closes.Load(); n != 5 {
		t.Errorf("the observer's wrapper closed %d times for 5 streams", n)
	}
	if n := up.Closed(); n != 0 {
		t.Errorf("5 streams closed %d upstream connections, want none", n)
	}
}

// Bridge.Close releases the connection of a finished stream whose end is
// still being read, too, once it is read: that drain must not put the
// connection back into the pool of a Bridge that is gone (a configuration
// reload), open until the idle timeout. (net/http's transport closes a
// connection that comes back after CloseIdleConnections.)
func TestCloseReleasesDrainedConnections(t *testing.T) {
	up := testupstream.New(t, testupstream.OpenAI)
	up.EndLate = 20 * time.Millisecond // within FinishWait: the end is read, the connection kept
	b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"stream":true,"messages":[{"role":"user","content":"hi"}],"model":"openai/gpt-4o"}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	b.Close() // the stream's end is still on its way
	deadline := time.Now().Add(5 * time.Second)
	for up.Closed() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the stream's connection is still open after Close (%d of %d closed)", up.Closed(), up.Conns())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
