package llmbridge_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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
			if n := up.Conns(); n != 1 {
				t.Errorf("5 streams took %d upstream connections, want 1", n)
			}
		})
	}
}
