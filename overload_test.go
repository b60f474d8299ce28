package llmbridge_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// openStream starts a stream through srv and returns once its first event
// arrived; the stream stays open until the returned cancel or the server
// ends it. Lines read later arrive on the channel.
func openStream(t *testing.T, url string, model ...string) (<-chan string, context.CancelFunc) {
	t.Helper()
	m := "openai/gpt-4o"
	if len(model) > 0 {
		m = model[0]
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions",
		strings.NewReader(`{"model":"`+m+`","messages":[{"role":"user","content":"x"}],"stream":true}`))
	req.Header.Set("Authorization", "Bearer "+accessKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	first := make(chan struct{})
	go func() {
		defer resp.Body.Close()
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		once := false
		for sc.Scan() {
			if !once && strings.HasPrefix(sc.Text(), "data: ") {
				once = true
				close(first)
			}
			lines <- sc.Text()
		}
	}()
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("no first event")
	}
	t.Cleanup(cancel)
	return lines, cancel
}

func TestOverloadGateRefusesAtOnce(t *testing.T) {
	e := newEnv(t, llmbridge.WithMaxConcurrent(1))
	e.openai.Enqueue(testupstream.Reply{Content: []string{"a", "b"}, StallAfter: 1})
	_, hangUp := openStream(t, e.srv.URL)
	resp, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || errorBody(t, body)["code"] != "server_overloaded" {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
	}
	if st := e.bridge.Stats(); st.Overloaded != 1 || st.Active != 1 {
		t.Errorf("stats %+v", st)
	}
	if n := len(e.openai.Requests()); n != 1 {
		t.Errorf("%d upstream requests: the refused one went upstream", n)
	}
	hangUp()
	deadline := time.Now().Add(5 * time.Second)
	for e.bridge.Stats().Active != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if resp, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`); resp.StatusCode != 200 {
		t.Errorf("after the first call ended: %d %s", resp.StatusCode, body)
	}
}

// At a forced shutdown the server cancels its base context with
// ErrShuttingDown: a stream still open ends with an error event in the
// client's format (no [DONE]) and is recorded.
func TestShutdownCauseEndsStreamsWithAnErrorEvent(t *testing.T) {
	recs := &records{}
	up := testupstream.New(t, testupstream.OpenAI)
	b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})),
		llmbridge.WithAccessKeys(accessKey), llmbridge.WithUsageSink(recs.sink))
	if err != nil {
		t.Fatal(err)
	}
	base, stop := context.WithCancelCause(context.Background())
	srv := httptest.NewUnstartedServer(b)
	srv.Config.BaseContext = func(net.Listener) context.Context { return base }
	srv.Start()
	t.Cleanup(func() { srv.Close(); b.Close() })

	up.Enqueue(testupstream.Reply{Content: []string{"a", "b"}, StallAfter: 1})
	lines, _ := openStream(t, srv.URL)
	stop(llmbridge.ErrShuttingDown)
	var got []string
	for l := range lines {
		got = append(got, l)
	}
	text := strings.Join(got, "\n")
	if !strings.Contains(text, `"code":"server_shutting_down"`) || strings.Contains(text, "[DONE]") {
		t.Errorf("stream at shutdown:\n%s", text)
	}
	if r := recs.wait(t, 1)[0]; !strings.Contains(r.Error, "shutting down") {
		t.Errorf("record %+v", r)
	}
}
