package endpoint

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// streamServer answers every request with an event stream whose end
// ("data: [DONE]") is flushed; after it, the handler runs tail (the body
// ends when it returns). It counts the connections it accepted.
func streamServer(t *testing.T, tail func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int64) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {\"n\":1}\n\ndata: [DONE]\n\n")
		w.(http.Flusher).Flush()
		tail(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// readToDone reads a stream's lines up to its [DONE], as a relay does,
// and returns its body unread past that.
func readToDone(t *testing.T, c *http.Client, url string) io.ReadCloser {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(resp.Body, 16) // reads no further than it must
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before [DONE]: %v", err)
		}
		if strings.HasPrefix(line, "data: [DONE]") {
			return resp.Body
		}
	}
}

// The upstream ends its body a moment after [DONE]: a body closed at
// [DONE] costs the connection every time; FinishBody keeps it.
func TestFinishBodyKeepsTheConnection(t *testing.T) {
	srv, conns := streamServer(t, func(http.ResponseWriter, *http.Request) { time.Sleep(2 * time.Millisecond) })
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	for range 10 {
		readToDone(t, c, srv.URL).Close()
	}
	if n := conns.Load(); n < 5 {
		t.Fatalf("closed at [DONE]: %d connections for 10 streams; the test no longer shows the cost", n)
	}
	conns.Store(0)
	for range 10 {
		FinishBody(readToDone(t, c, srv.URL))
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("finished: %d connections for 10 streams, want 1", n)
	}
}

// An upstream that never ends its body, or sends more than FinishBytes
// after its last event, is not waited for or read for ever.
func TestFinishBodyBounded(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	silent, _ := streamServer(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	endless, _ := streamServer(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 1024))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	for _, url := range []string{silent.URL, endless.URL} {
		body := readToDone(t, c, url)
		done := make(chan struct{})
		go func() {
			FinishBody(body)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second): // a hang, not a speed: FinishWait is 50 ms
			t.Fatalf("FinishBody on %s did not return", url)
		}
	}
}

// ender is a body whose owner takes it over, or not (take).
type ender struct {
	io.ReadCloser
	take          bool
	ended, closes int
}

func (e *ender) EndStream() bool { e.ended++; return e.take }
func (e *ender) Close() error    { e.closes++; return nil }

// EndBody leaves an Ender's body to its owner when the owner takes it,
// and reads and closes it once otherwise.
func TestEndBody(t *testing.T) {
	for _, take := range []bool{true, false} {
		e := &ender{ReadCloser: io.NopCloser(strings.NewReader("\r\n")), take: take}
		EndBody(e)
		want := 1
		if take {
			want = 0
		}
		if e.ended != 1 || e.closes != want {
			t.Errorf("taken %v: EndStream %d times, closed %d times, want 1 and %d", take, e.ended, e.closes, want)
		}
	}
}

// slowClose is a body whose Read waits until Close, and whose Close
// returns a moment after it has released the Read.
type slowClose struct {
	release chan struct{}
	done    atomic.Bool
}

func (s *slowClose) Read([]byte) (int, error) { <-s.release; return 0, io.EOF }

func (s *slowClose) Close() error {
	close(s.release)
	time.Sleep(20 * time.Millisecond)
	s.done.Store(true)
	return nil
}

// A body whose end does not come is closed by FinishBody's timer, and
// FinishBody returns only once that Close has: the body is closed on
// return, whichever closed it.
func TestFinishBodyClosedOnReturn(t *testing.T) {
	b := &slowClose{release: make(chan struct{})}
	FinishBody(b)
	if !b.done.Load() {
		t.Error("FinishBody returned while its timer was still closing the body")
	}
}
