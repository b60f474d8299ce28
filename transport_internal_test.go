package llmbridge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"testing"
)

// A provider without a proxy has h1's transport for its http:// requests
// (a model server on the local network), and a proxied one has none: a
// proxy is dialled by net/http's transport.
func TestPlainUpstreamsGoThroughH1(t *testing.T) {
	var conns []httptrace.GotConnInfo
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`)
	}))
	defer up.Close()
	b, err := New(
		WithProvider(OpenAI(ProviderConfig{Name: "local", BaseURL: up.URL + "/v1", APIKey: "sk-local"})),
		WithProvider(OpenAI(ProviderConfig{Name: "proxied", BaseURL: up.URL + "/v1", APIKey: "sk-p"}), ViaProxy("http://127.0.0.1:9")),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, u := range b.upstreams {
		if (u.plain != nil) != (u.name == "local") {
			t.Errorf("%s: h1 transport %v", u.name, u.plain != nil)
		}
	}
	// Two calls in a row: the second reuses the connection h1 pooled.
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { conns = append(conns, i) }}
	for range 2 {
		ctx := httptrace.WithClientTrace(t.Context(), trace)
		resp, err := b.ChatCompletion(ctx, &ChatRequest{Model: "local/m", Messages: []Message{UserMessage("hi")}})
		if err != nil || len(resp.Choices) != 1 || resp.Choices[0].Message.Content.Text != "ok" {
			t.Fatalf("%+v %v", resp, err)
		}
	}
	if len(conns) != 2 || conns[0].Reused || !conns[1].Reused {
		t.Errorf("connections %+v: want a new one, then it again", conns)
	}
}
