package llmbridge_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// A client that sends a stream request and then never reads: once the
// socket buffers are full, the bridge's write deadline ends the request,
// the upstream is cancelled and the record says why.
func TestStuckClientIsCutAtTheWriteTimeout(t *testing.T) {
	recs := &records{}
	e := newEnv(t, llmbridge.WithTimeouts(llmbridge.Timeouts{Write: 300 * time.Millisecond}), llmbridge.WithUsageSink(recs.sink))
	// Far more than loopback socket buffers hold: 40,000 chunks of ~1 KiB.
	words := make([]string, 40000)
	for i := range words {
		words[i] = strings.Repeat("lorem ipsum ", 80)
	}
	e.openai.Enqueue(testupstream.Reply{Content: words})

	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetReadBuffer(4096) // stay small: the client is the slow party
	}
	body := `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true}`
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+accessKey)
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
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
