package coldstart

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tlsUpstream is an HTTPS server (HTTP/2 by ALPN when h2) whose handler
// waits d, counting the connections it accepts.
func tlsUpstream(t *testing.T, h2 bool, d time.Duration) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(d)
		io.WriteString(w, "ok")
	}))
	srv.EnableHTTP2 = h2
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// barrierUpstream is an HTTPS server speaking HTTP/1 whose handler answers
// "ok" only once n requests are in it at the same time ("serialized"
// after 10 s without), counting the connections it accepts: requests that
// go one after another never get their "ok", whatever the machine's speed.
func barrierUpstream(t *testing.T, n int) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns, in atomic.Int64
	all := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if in.Add(1) == int64(n) {
			close(all)
		}
		select {
		case <-all:
			io.WriteString(w, "ok")
		case <-time.After(10 * time.Second):
			io.WriteString(w, "serialized")
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// transport is a client transport of srv's, as the Bridge builds its
// own (HTTP/2 attempted), with nothing pooled.
func transport(srv *httptest.Server) *http.Transport {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = true
	return tr
}

// burst sends n requests at once through rt and returns how long the
// last took to finish.
func burst(t *testing.T, rt http.RoundTripper, url string, n int) time.Duration {
	t.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			if err := answers(rt, req, "ok"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return time.Since(start)
}

// answers sends req through rt and checks that the answer's body is want.
func answers(rt http.RoundTripper, req *http.Request, want string) error {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != want {
		return fmt.Errorf("bad answer %q (%v), want %q", b, err, want)
	}
	return nil
}

// A burst to a cold HTTP/2 upstream opens one connection, not one a
// request as the transport alone does.
func TestBurstToColdHTTP2UpstreamSharesOneConnection(t *testing.T) {
	srv, conns := tlsUpstream(t, true, 20*time.Millisecond)
	bare := transport(srv)
	defer bare.CloseIdleConnections()
	burst(t, bare, srv.URL, 50)
	if n := conns.Load(); n < 2 {
		t.Skipf("the bare transport opened %d connection for the burst: the test cannot show the difference here", n)
	}
	t.Logf("the bare transport opened %d connections", conns.Load())

	srv, conns = tlsUpstream(t, true, 20*time.Millisecond)
	tr := transport(srv)
	defer tr.CloseIdleConnections()
	g := New(tr, 5*time.Second, time.Minute)
	burst(t, g, srv.URL, 50)
	if n := conns.Load(); n != 1 {
		t.Fatalf("the gated burst opened %d connections, want 1", n)
	}
	burst(t, g, srv.URL, 50) // warm: not held, the same connection
	if n := conns.Load(); n != 1 {
		t.Fatalf("the second burst opened %d more connections", n-1)
	}
}

// An HTTP/1 upstream gets its requests at once, each on its own
// connection: the held ones go as soon as the first has its connection,
// and none is held after.
func TestHTTP1UpstreamIsNotSerialized(t *testing.T) {
	srv, conns := barrierUpstream(t, 20)
	tr := transport(srv)
	defer tr.CloseIdleConnections()
	g := New(tr, 5*time.Second, time.Minute)
	burst(t, g, srv.URL, 20) // each answers "ok" only when all 20 are in at once
	if n := conns.Load(); n != 20 {
		t.Fatalf("%d connections for 20 concurrent HTTP/1 requests", n)
	}
	if s := stateOf(g, srv.Listener.Addr().String()); s != http1 {
		t.Fatalf("state %d after an HTTP/1 answer, want http1", s)
	}
}

// A Gate idle for longer than its idle time is cold again: the first
// request of the next burst goes alone (it alone carries the Gate's
// trace), while a request within the idle time is not held at all.
func TestIdleGateIsColdAgain(t *testing.T) {
	var traced atomic.Int64
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if tr := httptrace.ContextClientTrace(r.Context()); tr != nil && tr.GotConn != nil {
			traced.Add(1)
			tr.GotConn(httptrace.GotConnInfo{Conn: h2Conn{}})
		}
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	})
	g := New(next, time.Minute, 50*time.Millisecond)
	send := func() {
		req, _ := http.NewRequest(http.MethodGet, "https://example.invalid/", nil)
		if _, err := g.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	send()
	send()
	if n := traced.Load(); n != 1 {
		t.Fatalf("%d requests went first while warm, want 1", n)
	}
	time.Sleep(100 * time.Millisecond)
	send()
	if n := traced.Load(); n != 2 {
		t.Fatalf("after the idle time the next request did not go first (%d traced)", n)
	}
}

// h2Conn is a connection that negotiated HTTP/2.
type h2Conn struct{ net.Conn }

func (h2Conn) ConnectionState() tls.ConnectionState {
	return tls.ConnectionState{NegotiatedProtocol: "h2"}
}

// When the first request cannot connect, the held ones are let go at
// once (each then fails or connects on its own), and the Gate stays
// cold; a held request whose context ends stops waiting.
func TestFailedFirstRequestReleasesTheHeld(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every dial is refused
	g := New(&http.Transport{}, 10*time.Second, time.Minute)
	start := time.Now()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/", nil)
			if resp, err := g.RoundTrip(req); err == nil {
				resp.Body.Close()
				t.Error("a request to nothing succeeded")
			}
		})
	}
	wg.Wait()
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the requests took %v: the held ones waited for the Gate's timeout", took)
	}
	if s := stateOf(g, addr); s != cold {
		t.Fatalf("state %d after a failed first request, want cold", s)
	}

	// A held request's context.
	block := make(chan struct{})
	slow := New(roundTripFunc(func(*http.Request) (*http.Response, error) { <-block; return nil, errors.New("closed") }), time.Minute, time.Minute)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "https://example.invalid/", nil)
		_, _ = slow.RoundTrip(req) // the first: blocked
	}()
	for stateOf(slow, "example.invalid") != warming {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://example.invalid/", nil)
	if _, err := slow.RoundTrip(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("held request: %v, want its context's end", err)
	}
	close(block)
}

// Plain HTTP is not held: no TLS, no HTTP/2 to share by ALPN.
func TestPlainHTTPIsNotHeld(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	g := New(tr, time.Minute, time.Minute)
	burst(t, g, srv.URL, 5)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.hosts) != 0 {
		t.Fatalf("plain HTTP requests left state for %d hosts", len(g.hosts))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// stateOf is the Gate's state for host.
func stateOf(g *Gate, host string) state {
	g.mu.Lock()
	defer g.mu.Unlock()
	if h := g.hosts[host]; h != nil {
		return h.state
	}
	return cold
}

// fakeDials is a transport whose first request of a cold host fails the
// first fails times, then connects over HTTP/2 (GotConn); it counts the
// requests that came first (with the Gate's trace) and all of them.
type fakeDials struct {
	fails         int
	mu            sync.Mutex
	firsts, calls int
}

func (f *fakeDials) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.calls++
	tr := httptrace.ContextClientTrace(r.Context())
	first := tr != nil && tr.GotConn != nil
	fail := false
	if first {
		f.firsts++
		fail = f.firsts <= f.fails
	}
	f.mu.Unlock()
	if first {
		time.Sleep(10 * time.Millisecond) // the dial
		if fail {
			return nil, errors.New("dial refused")
		}
		tr.GotConn(httptrace.GotConnInfo{Conn: h2Conn{}})
	}
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

// When the first request fails, one held request takes its place and the
// others wait for it: a failed dial does not let the burst storm.
func TestHeldRequestTakesTheFailedFirstsPlace(t *testing.T) {
	f := &fakeDials{fails: 1}
	g := New(f, time.Minute, time.Minute)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 10 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, "https://api.example.invalid/v1/chat/completions", nil)
			if _, err := g.RoundTrip(req); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if f.firsts != 2 || f.calls != 10 || failed.Load() != 1 {
		t.Fatalf("%d requests went first, %d in all, %d failed; want 2 first (the failed one and its successor), 10, 1", f.firsts, f.calls, failed.Load())
	}
	if s := stateOf(g, "api.example.invalid"); s != warm {
		t.Fatalf("state %d, want warm", s)
	}
}

// A held request waits at most the Gate's wait, then connects on its own;
// each host has its own state.
func TestHeldRequestWaitsAtMostTheWait(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if tr := httptrace.ContextClientTrace(r.Context()); tr != nil && r.URL.Host == "stuck.invalid" {
			<-block // the first request's dial never ends
		}
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	})
	g := New(next, 50*time.Millisecond, time.Minute)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "https://stuck.invalid/", nil)
		_, _ = g.RoundTrip(req)
	}()
	for stateOf(g, "stuck.invalid") != warming {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	req, _ := http.NewRequest(http.MethodGet, "https://stuck.invalid/", nil)
	if _, err := g.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 50*time.Millisecond || took > 2*time.Second {
		t.Fatalf("held %v, want the wait (50ms)", took)
	}
	// Another host is not held behind stuck.invalid's dial.
	start = time.Now()
	other, _ := http.NewRequest(http.MethodGet, "https://other.invalid/", nil)
	if _, err := g.RoundTrip(other); err != nil || time.Since(start) > 40*time.Millisecond {
		t.Fatalf("another host's request: %v after %v", err, time.Since(start))
	}
}
