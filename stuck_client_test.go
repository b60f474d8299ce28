package llmbridge_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/lifecycle"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// stuckStream sends a stream request whose answer is far more than the
// loopback socket buffers hold (40,000 chunks of ~1 KiB) from a client
// with a small read buffer, and returns its connection unread; it is
// closed when the test ends.
func stuckStream(t *testing.T, e *env) net.Conn {
	t.Helper()
	words := make([]string, 40000)
	for i := range words {
		words[i] = strings.Repeat("lorem ipsum ", 80)
	}
	e.openai.Enqueue(testupstream.Reply{Content: words})
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.(*net.TCPConn).SetReadBuffer(4096) // stay small: the client is the slow party
	body := `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true}`
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+accessKey)
	req.Header.Set("Content-Type", "application/json")
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	return conn
}

// A client that sends a stream request and then never reads: once the
// socket buffers are full, the bridge's write deadline ends the request,
// the upstream is cancelled and the record says why.
func TestStuckClientIsCutAtTheWriteTimeout(t *testing.T) {
	recs := &records{}
	e := newEnv(t, llmbridge.WithTimeouts(llmbridge.Timeouts{Write: 300 * time.Millisecond}), llmbridge.WithUsageSink(recs.sink))
	conn := stuckStream(t, e)
	// Read the status line only, then stop reading.
	if line, err := bufio.NewReader(conn).ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Fatalf("status line %q %v", line, err)
	}
	select {
	case <-e.openai.Cancelled():
	case <-time.After(20 * time.Second):
		t.Fatal("the upstream was not cancelled for a client that stopped reading")
	}
	r := recs.wait(t, 1)[0]
	if r.Status != llmbridge.StatusClientClosedRequest || !strings.Contains(r.Error, "write timeout") {
		t.Errorf("record %+v", r)
	}
}

// BenchmarkStuckClientMemory measures what a client that stops reading
// costs the bridge while it waits for the write timeout: 20 clients send a
// 108 kB prompt, read nothing, and the heap in use is compared before and
// after they are stuck (reported as B/stuck-client).
func BenchmarkStuckClientMemory(b *testing.B) {
	const clients = 20
	prompt := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 2400) // ~108 kB
	body := `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"` + prompt + `"}],"stream":true}`
	for b.Loop() {
		up := testupstream.NewEndless(b)
		br, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.URL, APIKey: "k"})),
			llmbridge.WithTimeouts(llmbridge.Timeouts{Write: time.Minute}))
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(br)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]net.Conn, clients)
		for i := range conns {
			c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
			if err != nil {
				b.Fatal(err)
			}
			_ = c.(*net.TCPConn).SetReadBuffer(4096)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if err := req.Write(c); err != nil {
				b.Fatal(err)
			}
			conns[i] = c
		}
		time.Sleep(2 * time.Second) // the relays fill the socket buffers and block
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/clients, "B/stuck-client")
		for _, c := range conns {
			c.Close()
		}
		srv.Close()
		br.Close()
	}
}

// Issue 25, item 1: a stream quiet for longer than the write timeout
// still ends with its error event in a well-formed body: the deadline set
// at the last write has passed, so the error event's write must renew it
// first. A deadline cuts only a client that stopped reading.
func TestErrorEventAfterSilenceLongerThanTheWriteTimeout(t *testing.T) {
	e := newEnv(t, llmbridge.WithTimeouts(llmbridge.Timeouts{Write: 200 * time.Millisecond, StreamIdle: 900 * time.Millisecond}),
		llmbridge.WithKeepAlive(time.Hour))
	e.openai.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c"}, StallAfter: 2})
	resp, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true}`)
	// e.post reads the whole body and fails the test on a broken chunked
	// encoding (io.ReadAll: unexpected EOF).
	if resp.StatusCode != 200 || !strings.Contains(body, `"error"`) || !strings.Contains(body, "idle") || strings.Contains(body, "[DONE]") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

// Issue 25, item 2: a connection cut for the write timeout is closed with
// a reset, so the kernel frees the unsent stream at once rather than
// retrying it to a client that does not read (FIN-WAIT-1). With the
// server's wiring (lifecycle.ResetListener, lifecycle.ConnContext and
// WithClientCut(ResetConn); the listener's part is needed when the write
// that fails is one net/http makes, which then closes the connection
// before the handler returns) the
// server's socket is gone from /proc/net/tcp and the client's next read is
// "connection reset by peer"; a plain close (the control case) leaves the
// socket in FIN-WAIT-1 with megabytes of unsent stream queued.
func TestWriteTimeoutCutIsAReset(t *testing.T) {
	for _, reset := range []bool{true, false} {
		t.Run(map[bool]string{true: "reset", false: "plain close"}[reset], func(t *testing.T) {
			recs := &records{}
			cut := make(chan struct{}, 1)
			e := newEnv(t, llmbridge.WithTimeouts(llmbridge.Timeouts{Write: 300 * time.Millisecond}), llmbridge.WithUsageSink(recs.sink),
				llmbridge.WithClientCut(func(ctx context.Context) {
					if reset {
						lifecycle.ResetConn(ctx)
					}
					cut <- struct{}{}
				}))
			if reset { // the server's wiring: its listener resets a connection whose write timed out
				e.srv.Close()
				e.srv = httptest.NewUnstartedServer(e.bridge)
				e.srv.Listener = lifecycle.ResetListener(e.srv.Listener)
				e.srv.Start()
			}
			e.srv.Config.ConnContext = lifecycle.ConnContext
			conn := stuckStream(t, e)
			select {
			case <-cut:
			case <-time.After(20 * time.Second):
				t.Fatal("the write timeout never cut the client")
			}
			if r := recs.wait(t, 1)[0]; !strings.Contains(r.Error, "write timeout") {
				t.Fatalf("record %+v", r)
			}
			time.Sleep(100 * time.Millisecond) // the handler returned and the connection closed
			state, queued, err := serverSocket(conn)
			if err != nil {
				t.Skip(err) // no /proc/net/tcp here
			}
			t.Logf("server socket: state %q, %d bytes queued", state, queued)
			if reset && state != "" {
				t.Errorf("after a reset the server's socket is %s with %d bytes queued", state, queued)
			}
			if !reset && (state != tcpFinWait1 || queued == 0) {
				t.Errorf("control: a plain close left the socket %q with %d bytes queued; want FIN-WAIT-1 with a backlog", state, queued)
			}
			if !reset {
				return // reading megabytes through a 4 KiB window proves nothing more
			}
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := io.Copy(io.Discard, conn)
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("after the cut the client read %d bytes and then %v; want a reset", n, err)
			}
		})
	}
}

// tcpFinWait1 is FIN-WAIT-1's number in /proc/net/tcp.
const tcpFinWait1 = "04"

// serverSocket finds the server's end of the client connection conn in
// /proc/net/tcp (IPv4 loopback): its state (hex, as the kernel writes it;
// "" when the socket is gone) and the bytes in its send queue.
func serverSocket(conn net.Conn) (state string, queued int64, err error) {
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return "", 0, err
	}
	local := conn.LocalAddr().(*net.TCPAddr)
	server := conn.RemoteAddr().(*net.TCPAddr)
	want := fmt.Sprintf(":%04X", server.Port)
	peer := fmt.Sprintf(":%04X", local.Port)
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.HasSuffix(f[1], want) || !strings.HasSuffix(f[2], peer) {
			continue
		}
		tx, _, _ := strings.Cut(f[4], ":")
		q, _ := strconv.ParseInt(tx, 16, 64)
		return f[3], q, nil
	}
	return "", 0, nil
}
