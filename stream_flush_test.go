package llmbridge_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
)

// writeCounter is a listener whose connections note the size of every
// write the server makes to them.
type writeCounter struct {
	net.Listener
	mu     sync.Mutex
	writes []int
}

func (l *writeCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countedConn{c, l}, nil
}

func (l *writeCounter) sizes() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.writes...)
}

type countedConn struct {
	net.Conn
	l *writeCounter
}

func (c *countedConn) Write(p []byte) (int, error) {
	c.l.mu.Lock()
	c.l.writes = append(c.l.writes, len(p))
	c.l.mu.Unlock()
	return c.Conn.Write(p)
}

// A stream whose events arrive together reaches the client in full
// writes (net/http's 4 KiB buffer each), not in a write per read of the
// upstream: the relay flushes when a read would wait for the upstream,
// and these never do. (Flushed before every read, the first write held
// only what the first read brought: the SSE reader's first 1 KiB.) So
// does a burst that comes after a pause (the time to a model's first
// token): the read that waited for it filled its buffer, so the next one
// reads before it flushes. (Flushing first after every read that waited
// wrote the burst as [4096 270 4096 4096 1725].)
func TestStreamBurstGoesOutInFullWrites(t *testing.T) {
	var sb strings.Builder
	for i := range 80 {
		fmt.Fprintf(&sb, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\","+
			"\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word %d \"},\"finish_reason\":null}]}\n\n", i)
	}
	sb.WriteString("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\"," +
		"\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":160,\"total_tokens\":165}}\n\ndata: [DONE]\n\n")
	stream := sb.String()
	for _, pause := range []time.Duration{0, 30 * time.Millisecond} {
		t.Run(fmt.Sprintf("pause=%v", pause), func(t *testing.T) { burstInFullWrites(t, stream, pause) })
	}
}

// burstInFullWrites sends stream through a bridge from an upstream that
// writes its headers and, pause later (0: at once), the whole body in
// one write, and holds the client's writes to full buffers.
func burstInFullWrites(t *testing.T, stream string, pause time.Duration) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		// The body in one write system call, so that it is all in the
		// bridge's socket before the relay reads it (net/http's own
		// writer would split it in 4 KiB pieces, and a relay that finds
		// the socket empty between two of them rightly flushes).
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		buf.Flush()
		head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: " + strconv.Itoa(len(stream)) + "\r\n\r\n"
		if pause > 0 {
			conn.Write([]byte(head))
			time.Sleep(pause)
			head = ""
		}
		conn.Write([]byte(head + stream))
	}))
	defer up.Close()
	b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.URL + "/v1", APIKey: "sk-x"})),
		llmbridge.WithAccessKeys(accessKey))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	front := httptest.NewUnstartedServer(b)
	counter := &writeCounter{Listener: front.Listener}
	front.Listener = counter
	front.Start()
	defer front.Close()

	req, _ := http.NewRequest(http.MethodPost, front.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"openai/gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+accessKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || strings.Count(string(body), "data: ") != 83 || !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
		t.Fatalf("%d %v: %d events\n%.300s", resp.StatusCode, err, strings.Count(string(body), "data: "), body)
	}
	sizes := counter.sizes()
	if len(sizes) < 4 {
		t.Fatalf("writes %v: the stream is too short to tell", sizes)
	}
	// All but the last two (the rest of the events, and the last event
	// with the response's end when the call's closing work outlasts
	// endFlush) fill the buffer.
	for i, n := range sizes[:len(sizes)-2] {
		if n != 4096 {
			t.Fatalf("write %d of %v is %d bytes: the relay flushed events that arrived together", i, sizes, n)
		}
	}
}

// Events the upstream sent reach the client while the upstream is
// silent (no keep-alive comes to flush them here): the relay flushes
// when its read would wait. Pass-through and translated streams alike
// (Messages and Responses translated from the chat upstream).
func TestStreamFlushedWhileTheUpstreamWaits(t *testing.T) {
	chunk := func(s string) string {
		return "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\"," +
			"\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + s + "\"},\"finish_reason\":null}]}\n\n"
	}
	// Each answer waits for its own release: free lets the current one
	// go on and makes the next.
	var mu sync.Mutex
	release := make(chan struct{})
	wait := func() <-chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		return release
	}
	free := func() {
		mu.Lock()
		defer mu.Unlock()
		close(release)
		release = make(chan struct{})
	}
	defer free()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		// The release is taken before the events go out: the client may
		// see them, and the test free this answer, before the handler
		// would come back from Flush (it then waited for the next
		// answer's release, which only the stream's idle timeout, 5
		// minutes on, ever came to).
		released := wait()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte(chunk("a") + chunk("b")))
		w.(http.Flusher).Flush()
		<-released
		w.Write([]byte("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\"," +
			"\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"))
	}))
	defer up.Close()
	b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.URL + "/v1", APIKey: "sk-x"})),
		llmbridge.WithAccessKeys(accessKey), llmbridge.WithKeepAlive(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	front := httptest.NewServer(b)
	defer front.Close()
	for path, body := range map[string]string{
		"/v1/chat/completions": `{"model":"openai/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		"/v1/messages":         `{"model":"openai/gpt-4o-mini","stream":true,"max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`,
		"/v1/responses":        `{"model":"openai/gpt-4o-mini","stream":true,"input":"hi"}`,
	} {
		req, _ := http.NewRequest(http.MethodPost, front.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+accessKey)
		req.Header.Set("anthropic-version", "2023-06-01")
		got, done := make(chan struct{}), make(chan error, 1)
		go func() { // the headers, too, go out with the first flush
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- err
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if strings.Contains(sc.Text(), `"b"`) { // the second event's text
					close(got)
				}
			}
			done <- sc.Err()
		}()
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Errorf("%s: the events sent before the upstream went silent did not reach the client", path)
		}
		free()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
