package coldstart

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// limitedUpstream is an HTTPS server speaking HTTP/2 that allows limit
// streams a connection. Its handler echoes the request's body once
// release is closed; entered counts the requests it holds.
func limitedUpstream(t *testing.T, limit int) (srv *httptest.Server, conns, entered *atomic.Int64, release chan struct{}) {
	t.Helper()
	conns, entered, release = new(atomic.Int64), new(atomic.Int64), make(chan struct{})
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		entered.Add(1)
		<-release
		w.Write(b)
	}))
	srv.EnableHTTP2 = true
	srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: limit}
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, conns, entered, release
}

// heldBurst sends n POSTs at once through rt to a limitedUpstream, waits
// until its handler holds all n, and returns the connections opened by
// then; it releases them and checks every answer.
func heldBurst(t *testing.T, rt http.RoundTripper, srv *httptest.Server, conns, entered *atomic.Int64, release chan struct{}, n int) int64 {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			want := string(rune('a' + i%26))
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(want))
			if err := answers(rt, req, want); err != nil {
				errs <- err
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for entered.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	opened := conns.Load()
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if entered.Load() != int64(n) {
		t.Fatalf("the upstream held %d of %d requests", entered.Load(), n)
	}
	return opened
}

// warmUp sends one request through rt, so that the Gate finds the host warm
// and the pool holds one HTTP/2 connection.
func warmUp(t *testing.T, rt http.RoundTripper, srv *httptest.Server, entered *atomic.Int64, release chan struct{}) {
	t.Helper()
	go func() {
		for entered.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		release <- struct{}{}
	}()
	resp, err := rt.RoundTrip(httptestRequest(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	entered.Store(0)
}

func httptestRequest(url string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	return req
}

// A burst past the stream limit of a warm HTTP/2 pool: the transport
// alone dials a connection for nearly every request that finds the
// connections full; with the Dialer it dials one at a time, and each new
// connection carries its share of the burst.
func TestBurstPastTheStreamLimitDialsOneAtATime(t *testing.T) {
	const limit, n = 5, 60
	srv, conns, entered, release := limitedUpstream(t, limit)
	bare := transport(srv)
	defer bare.CloseIdleConnections()
	warmUp(t, bare, srv, entered, release)
	bareConns := heldBurst(t, bare, srv, conns, entered, release, n)
	t.Logf("the bare transport: %d connections for %d streams, %d a connection", bareConns, n, limit)

	srv, conns, entered, release = limitedUpstream(t, limit)
	tr := transport(srv)
	tr.DialTLSContext = NewDialer(tr, 5*time.Second).DialTLSContext
	defer tr.CloseIdleConnections()
	g := New(tr, 5*time.Second, time.Minute)
	warmUp(t, g, srv, entered, release)
	got := heldBurst(t, g, srv, conns, entered, release, n)
	// n/limit are needed. A dial superseded just before net/http hands
	// the new connection to the waiting requests sends its request again
	// early, and may dial the next connection while that one still has a
	// stream free: a few more, not one a request.
	if want := int64(n / limit * 3 / 2); got > want {
		t.Fatalf("with the Dialer: %d connections for %d streams of %d a connection, want at most %d (the bare transport: %d)", got, n, limit, want, bareConns)
	}
	t.Logf("with the Dialer: %d connections", got)
}

// The Dialer does not hold an HTTP/1 host's dials: each concurrent request
// gets its connection at once.
func TestDialerLetsHTTP1DialsGo(t *testing.T) {
	srv, conns := barrierUpstream(t, 20)
	tr := transport(srv)
	tr.DialTLSContext = NewDialer(tr, 5*time.Second).DialTLSContext
	defer tr.CloseIdleConnections()
	burst(t, New(tr, 5*time.Second, time.Minute), srv.URL, 20) // each answers "ok" only when all 20 are in at once
	if n := conns.Load(); n != 20 {
		t.Fatalf("%d connections for 20 concurrent HTTP/1 requests", n)
	}
}

// A dial that waits for a failing one takes its place: one at a time, and
// each waits at most the Dialer's wait.
func TestDialerFailedDialLetsOneWaitingDialGo(t *testing.T) {
	var dials atomic.Int64
	gate := make(chan struct{})
	d := &Dialer{dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			<-gate
		}
		return nil, errors.New("refused")
	}, tr: &http.Transport{}, wait: 5 * time.Second, hosts: map[string]*dialHost{}}
	first := make(chan error, 1)
	go func() {
		_, err := d.DialTLSContext(context.Background(), "tcp", "example.com:443")
		first <- err
	}()
	for dials.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := d.DialTLSContext(context.Background(), "tcp", "example.com:443"); err == nil || errors.Is(err, ErrSuperseded) {
				t.Errorf("waiting dial: %v, want the dial's own error", err)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d dials while the first is in flight, want 1", n)
	}
	close(gate)
	if err := <-first; err == nil {
		t.Fatal("the first dial did not fail")
	}
	wg.Wait()
	if n := dials.Load(); n != 4 {
		t.Fatalf("%d dials, want 4 (each waiting dial made in turn)", n)
	}
}

// A waiting dial ends with its context, and waits at most the wait.
func TestDialerWaitIsBounded(t *testing.T) {
	gate := make(chan struct{})
	defer close(gate)
	var dials atomic.Int64
	d := &Dialer{dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			<-gate
		}
		return nil, errors.New("refused")
	}, tr: &http.Transport{}, wait: 100 * time.Millisecond, hosts: map[string]*dialHost{}}
	go d.DialTLSContext(context.Background(), "tcp", "example.com:443")
	for dials.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := d.DialTLSContext(ctx, "tcp", "example.com:443"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a waiting dial whose context ended: %v", err)
	}
	start := time.Now()
	if _, err := d.DialTLSContext(context.Background(), "tcp", "example.com:443"); err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("a waiting dial past the wait: %v after %v", err, time.Since(start))
	}
	if n := dials.Load(); n != 2 {
		t.Fatalf("%d dials, want 2 (the one past its wait dialed)", n)
	}
}

// A request whose dial was superseded is sent again, with its body from
// GetBody; its last try dials regardless (mustDialKey), and so does the
// one try of a request whose body cannot be had again.
func TestGateSendsASupersededRequestAgain(t *testing.T) {
	var tries atomic.Int64
	var bodies []string
	var mu sync.Mutex
	g := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		var b []byte
		if r.Body != nil {
			b, _ = io.ReadAll(r.Body)
			r.Body.Close()
		}
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		tries.Add(1)
		if r.Context().Value(mustDialKey{}) == nil {
			return nil, ErrSuperseded // as the Dialer does
		}
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	}), time.Second, time.Minute)
	g.hosts["example.com"] = &host{state: warm, last: time.Now()}
	req, _ := http.NewRequest(http.MethodPost, "https://example.com/v1", bytes.NewReader([]byte("body")))
	resp, err := g.RoundTrip(req)
	if err != nil {
		t.Fatalf("after %d tries: %v", tries.Load(), err)
	}
	resp.Body.Close()
	if tries.Load() != maxSuperseded {
		t.Fatalf("%d tries, want %d", tries.Load(), maxSuperseded)
	}
	for i, b := range bodies {
		if b != "body" {
			t.Fatalf("try %d sent %q", i+1, b)
		}
	}

	tries.Store(0)
	req, _ = http.NewRequest(http.MethodPost, "https://example.com/v1", io.NopCloser(bytes.NewReader([]byte("body"))))
	if resp, err := g.RoundTrip(req); err != nil || tries.Load() != 1 {
		t.Fatalf("a body without GetBody: %v after %d tries", err, tries.Load())
	} else {
		resp.Body.Close()
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "https://example.com/v1", nil)
	if _, err := g.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled request: %v, want its context's error", err)
	}
}

// A host that spoke HTTP/1 never makes a dial wait, even with one in
// flight; a dial that must be made (mustDialKey) takes its turn after an
// HTTP/2 dial instead of being superseded.
func TestDialerTurns(t *testing.T) {
	d := &Dialer{tr: &http.Transport{}, wait: time.Hour, hosts: map[string]*dialHost{}}
	d.hosts["h1:443"] = &dialHost{http1: true, busy: true, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a wait ends only with it
	defer cancel()
	if h, err := d.turn(ctx, "h1:443"); h != nil || err != nil {
		t.Fatalf("an HTTP/1 host: turn %v, %v; want to go at once without the host's turn", h, err)
	}

	busy := &dialHost{busy: true, done: make(chan struct{})}
	d.hosts["h2:443"] = busy
	got := make(chan error, 2)
	go func() { _, err := d.turn(context.Background(), "h2:443"); got <- err }()
	must := context.WithValue(context.Background(), mustDialKey{}, true)
	go func() {
		h, err := d.turn(must, "h2:443")
		if err == nil && h == nil {
			err = errors.New("went without the host's turn")
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	d.mu.Lock()
	busy.busy, busy.gen = false, 1 // the dial in flight brought an HTTP/2 connection
	close(busy.done)
	d.mu.Unlock()
	var superseded, turned int
	for range 2 {
		switch err := <-got; {
		case errors.Is(err, ErrSuperseded):
			superseded++
		case err == nil:
			turned++
		default:
			t.Fatal(err)
		}
	}
	if superseded != 1 || turned != 1 {
		t.Fatalf("%d superseded and %d turns, want 1 and 1", superseded, turned)
	}
}

// With HTTP/2 off in the transport, the Dialer offers only what net/http
// set up (no ALPN): an HTTP/2 upstream is spoken to in HTTP/1.1.
func TestDialerFollowsTheTransportsProtocols(t *testing.T) {
	srv, _ := tlsUpstream(t, true, 0)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}} // a custom dialer without ForceAttemptHTTP2: HTTP/1 only
	tr.DialTLSContext = NewDialer(tr, 5*time.Second).DialTLSContext
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(httptestRequest(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "ok" || resp.ProtoMajor != 1 {
		t.Fatalf("HTTP/%d %q, want HTTP/1.1 ok", resp.ProtoMajor, b)
	}

	tr = transport(srv) // HTTP/2 on: it is spoken
	tr.DialTLSContext = NewDialer(tr, 5*time.Second).DialTLSContext
	defer tr.CloseIdleConnections()
	resp, err = tr.RoundTrip(httptestRequest(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("HTTP/%d with HTTP/2 on", resp.ProtoMajor)
	}
}
