package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/llmbridge/llmbridge/internal/upconn"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server is an httptest server that counts the connections it accepted
// and the ones that ended.
type server struct {
	*httptest.Server
	testupstream.ConnCounter
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	s := &server{Server: httptest.NewUnstartedServer(h)}
	s.Count(s.Config)
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func newTransport(t *testing.T) *Transport {
	tr := &Transport{Dial: upconn.WrapDial((&net.Dialer{}).DialContext), MaxIdlePerHost: 4, IdleTimeout: time.Minute}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// eventually waits up to 5 s for ok.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(end) {
			t.Fatalf("still not %s after 5 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func do(t *testing.T, rt http.RoundTripper, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	resp.Body.Close()
	return resp, string(b)
}

// Requests of every body framing go on one connection, each written as
// sent and answered as the server answered.
func TestOneConnectionCarriesEveryKindOfAnswer(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part one, "))
			w.(http.Flusher).Flush()
			w.Write([]byte("part two"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/length":
			w.Header().Set("Content-Length", "5")
			w.Write([]byte("fixed"))
		default:
			fmt.Fprintf(w, "%s %s %s ua=%s", r.Method, r.URL.RequestURI(), b, r.Header.Get("User-Agent"))
		}
	})
	tr := newTransport(t)
	post, _ := http.NewRequest("POST", s.URL+"/echo?q=1", strings.NewReader(`{"model":"m"}`))
	if _, body := do(t, tr, post); body != `POST /echo?q=1 {"model":"m"} ua=Go-http-client/1.1` {
		t.Errorf("echo: %q", body)
	}
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/chunked", "part one, part two"},
		{"GET", "/empty", ""},
		{"HEAD", "/length", ""},
		{"GET", "/length", "fixed"},
	} {
		req, _ := http.NewRequest(c.method, s.URL+c.path, nil)
		resp, body := do(t, tr, req)
		if body != c.want || resp.Header.Get("X-Method") != c.method {
			t.Errorf("%s %s: %q, X-Method %q", c.method, c.path, body, resp.Header.Get("X-Method"))
		}
	}
	if n := s.Opened(); n != 1 {
		t.Errorf("%d connections for five requests in a row, want 1", n)
	}
}

// A body closed before its end takes its connection with it; an answer
// that says Connection: close is not kept either.
func TestConnectionsThatCannotCarryAnotherRequestAreClosed(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		w.Write([]byte(strings.Repeat("x", 64<<10)))
	})
	tr := newTransport(t)
	for i, path := range []string{"/early", "/close"} {
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if path == "/early" {
			resp.Body.Read(make([]byte, 10))
		} else {
			io.Copy(io.Discard, resp.Body)
		}
		resp.Body.Close()
		if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
			t.Errorf("%s: a read after Close succeeded", path)
		}
		eventually(t, fmt.Sprintf("%s's connection closed", path), func() bool { return s.Closed() == int64(i+1) })
	}
	if n := idleCount(tr, s.URL); n != 0 {
		t.Errorf("%d idle connections kept", n)
	}
}

func idleCount(tr *Transport, base string) int {
	u, _ := url.Parse(base)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.idle[hostPort(u)])
}

// rawServer accepts connections on a loopback port and gives each to
// serve, on a goroutine of its own; the test's end closes the listener
// and waits for them.
func rawServer(t *testing.T, serve func(n int, c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(n, c)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// readRequest reads one request and its body from br.
func readRequest(br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err == nil {
		_, err = io.Copy(io.Discard, req.Body)
	}
	return req, err
}

const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// The server closed the idle connection: the next request sees it and
// dials, rather than send into a closed connection.
func TestAConnectionClosedWhileIdleIsNotUsed(t *testing.T) {
	if !upconn.CanPeek {
		t.Skip("this platform cannot look at an idle connection")
	}
	var conns atomic.Int32
	base := rawServer(t, func(n int, c net.Conn) {
		conns.Add(1)
		br := bufio.NewReader(c)
		if _, err := readRequest(br); err == nil {
			io.WriteString(c, okAnswer) // keep-alive, and then close it
		}
	})
	tr := newTransport(t)
	for i := range 3 {
		req, _ := http.NewRequest("POST", base, strings.NewReader("{}"))
		if _, body := do(t, tr, req); body != "ok" {
			t.Fatalf("request %d: %q", i, body)
		}
		// Wait for the server's close to arrive.
		eventually(t, "closed by the server", func() bool {
			c := tr.pop(hostPort(req.URL))
			if c == nil {
				return false
			}
			idle := c.usable()
			tr.put(c)
			return !idle
		})
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

// A connection the server closes just as a request goes out on it, before
// any answer: a request that may be sent twice goes again on a new
// connection; a POST does not, as with net/http's Transport, and its
// error says what happened.
func TestARaceWithTheServersCloseRetriesWhatMayBeRetried(t *testing.T) {
	for _, c := range []struct {
		method string
		header string
		retry  bool
	}{
		{"GET", "", true},
		{"POST", "", false},
		{"POST", "Idempotency-Key", true},
	} {
		t.Run(c.method+c.header, func(t *testing.T) {
			var conns atomic.Int32
			base := rawServer(t, func(n int, conn net.Conn) {
				conns.Add(1)
				br := bufio.NewReader(conn)
				if _, err := readRequest(br); err != nil {
					return
				}
				io.WriteString(conn, okAnswer)
				if n == 0 {
					readRequest(br) // the second request: read, and the connection closed unanswered
					return
				}
			})
			tr := newTransport(t)
			for i := range 2 {
				req, _ := http.NewRequest(c.method, base, strings.NewReader("{}"))
				if c.header != "" {
					req.Header.Set(c.header, "k1")
				}
				resp, err := tr.RoundTrip(req)
				switch {
				case i == 0 && err != nil:
					t.Fatal(err)
				case i == 1 && c.retry && err != nil:
					t.Fatalf("retry: %v", err)
				case i == 1 && !c.retry:
					if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Fatalf("no retry: error %v, want the connection's end", err)
					}
					return
				}
				io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if n := conns.Load(); n != 2 {
				t.Errorf("%d connections, want 2", n)
			}
		})
	}
}

// Cancelling a request ends its wait for the answer at once, with the
// context's cause, and so a read of a stream's body; the connection is
// not kept.
func TestCancelEndsTheWaitAndTheBody(t *testing.T) {
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // and net/http then hears the client's close
		if r.URL.Path == "/stream" {
			w.Write([]byte("data: 1\n\n"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	tr := newTransport(t)
	why := errors.New("the client went away")

	ctx, cancel := context.WithCancelCause(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/wait", strings.NewReader("{}"))
	time.AfterFunc(50*time.Millisecond, func() { cancel(why) })
	start := time.Now()
	if _, err := tr.RoundTrip(req); err != why {
		t.Errorf("waiting for the header: error %v, want the cause", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the cancel took %v", d)
	}

	ctx, cancel = context.WithCancelCause(context.Background())
	req, _ = http.NewRequestWithContext(ctx, "POST", s.URL+"/stream", strings.NewReader("{}"))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := resp.Body.Read(buf); err != nil || string(buf[:n]) != "data: 1\n\n" {
		t.Fatalf("first event: %q %v", buf[:n], err)
	}
	time.AfterFunc(50*time.Millisecond, func() { cancel(why) })
	if _, err := resp.Body.Read(buf); err != why {
		t.Errorf("reading the body: error %v, want the cause", err)
	}
	resp.Body.Close()
	eventually(t, "both connections closed", func() bool { return s.Closed() == 2 })
	if n := idleCount(tr, s.URL); n != 0 {
		t.Errorf("%d idle connections kept", n)
	}
}

// An upstream that sends a header without end costs the bridge at most
// MaxHeaderBytes of reading, and the request an error.
func TestAnEndlessHeaderIsCutOff(t *testing.T) {
	base := rawServer(t, func(n int, c net.Conn) {
		if _, err := readRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Long: ")
		chunk := []byte(strings.Repeat("a", 32<<10))
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	tr := newTransport(t)
	req, _ := http.NewRequest("GET", base, nil)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := tr.RoundTrip(req)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrHeaderTooLong) {
		t.Fatalf("error %v, want ErrHeaderTooLong", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8*MaxHeaderBytes {
		t.Errorf("allocated %d MB reading it", grew>>20)
	}
}

// Informational answers before the final one are passed to the trace and
// skipped; more than max1xx of them end the request.
func TestInformationalAnswersAreSkipped(t *testing.T) {
	base := rawServer(t, func(n int, c net.Conn) {
		if _, err := readRequest(bufio.NewReader(c)); err != nil {
			return
		}
		hints := 2
		if n == 1 {
			hints = max1xx + 1
		}
		for range hints {
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n")
		}
		io.WriteString(c, okAnswer)
	})
	tr := newTransport(t)
	var got []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		got = append(got, code)
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", base, nil)
	if resp, body := do(t, tr, req); resp.StatusCode != 200 || body != "ok" || len(got) != 2 {
		t.Errorf("status %d, body %q, 1xx seen %v", resp.StatusCode, body, got)
	}
	tr.CloseIdleConnections() // the next request goes to the server's second connection
	req, _ = http.NewRequest("GET", base, nil)
	if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "informational") {
		t.Errorf("error %v, want too many informational answers", err)
	}
}

// What net/http's Transport refuses before it sends, this refuses too,
// and its error never carries a header's value (it may be a key).
func TestBadRequestsAreRefusedBeforeAnyDial(t *testing.T) {
	var dials atomic.Int32
	tr := &Transport{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("no dial expected")
	}}
	for _, mk := range []func() *http.Request{
		func() *http.Request {
			r, _ := http.NewRequest("POST", "http://upstream.test/v1", nil)
			r.Header.Set("Authorization", "Bearer sk-secret\r\nX-Injected: 1")
			return r
		},
		func() *http.Request {
			r, _ := http.NewRequest("POST", "http://upstream.test/v1", nil)
			r.Header["Bad Name"] = []string{"v"}
			return r
		},
		func() *http.Request {
			r, _ := http.NewRequest("POST", "http://upstream.test/v1", nil)
			r.Method = "PO ST"
			return r
		},
		func() *http.Request { r, _ := http.NewRequest("POST", "https://upstream.test/v1", nil); return r },
		func() *http.Request { r, _ := http.NewRequest("POST", "http:///v1", nil); return r },
	} {
		req := mk()
		_, err := tr.RoundTrip(req)
		if err == nil {
			t.Errorf("%s %s %v: sent", req.Method, req.URL, req.Header)
		} else if strings.Contains(err.Error(), "sk-secret") {
			t.Errorf("the error shows the header's value: %v", err)
		}
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("%d dials for requests that were refused", n)
	}
}

// An idle connection is closed after IdleTimeout; CloseIdleConnections
// closes the idle ones at once and one in use when its answer ends; the
// pool keeps at most MaxIdlePerHost a host.
func TestThePoolsBounds(t *testing.T) {
	gate := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/held" {
			<-gate
		}
		w.Write([]byte("ok"))
	})
	tr := newTransport(t)
	tr.MaxIdlePerHost = 2
	tr.IdleTimeout = 100 * time.Millisecond

	req, _ := http.NewRequest("GET", s.URL, nil)
	do(t, tr, req)
	eventually(t, "closed at its idle timeout", func() bool { return s.Closed() == 1 })

	tr.IdleTimeout = time.Minute
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", s.URL+"/held", nil)
			do(t, tr, req)
		})
	}
	eventually(t, "four requests held", func() bool { return s.Opened() == 5 })
	close(gate)
	wg.Wait()
	if n := idleCount(tr, s.URL); n != 2 {
		t.Errorf("%d idle connections, want MaxIdlePerHost 2", n)
	}
	eventually(t, "the two past the bound closed", func() bool { return s.Closed() == 3 })

	held, _ := http.NewRequest("GET", s.URL+"/stream", nil)
	resp, err := tr.RoundTrip(held)
	if err != nil {
		t.Fatal(err)
	}
	tr.CloseIdleConnections()
	eventually(t, "the idle one closed", func() bool { return s.Closed() == 4 })
	io.ReadAll(resp.Body)
	resp.Body.Close()
	eventually(t, "the one in use closed at its end", func() bool { return s.Closed() == 5 })
	if n := idleCount(tr, s.URL); n != 0 {
		t.Errorf("%d idle connections after CloseIdleConnections", n)
	}
	req, _ = http.NewRequest("GET", s.URL, nil) // and the transport goes on
	do(t, tr, req)
}

// The trace hears of each connection got and each put back, as the
// bridge's stream relay needs (upconn.Track).
func TestTraceSeesConnectionsGotAndPutBack(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	tr := newTransport(t)
	var reused []bool
	var puts int
	trace := &httptrace.ClientTrace{
		GotConn:     func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) },
		PutIdleConn: func(err error) { puts++ },
	}
	for range 2 {
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", s.URL, nil)
		do(t, tr, req)
	}
	if fmt.Sprint(reused) != "[false true]" || puts != 2 {
		t.Errorf("reused %v, puts %d", reused, puts)
	}
}

// Many goroutines share the pool (run with -race).
func TestConcurrentRequests(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	tr := newTransport(t)
	tr.MaxIdlePerHost = 8
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				want := fmt.Sprintf("g%d-%d", g, i)
				req, _ := http.NewRequest("POST", s.URL, strings.NewReader(want))
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != want {
					t.Errorf("%q, want %q", b, want)
				}
			}
		})
	}
	wg.Wait()
	if n := s.Opened(); n > 16 {
		t.Errorf("%d connections for 8 goroutines and a pool of 8", n)
	}
}

// Or sends http:// through the transport and the rest elsewhere.
func TestOrRoutesBySchemes(t *testing.T) {
	tr := newTransport(t)
	var other atomic.Int32
	rt := tr.Or(roundTripFunc(func(*http.Request) (*http.Response, error) {
		other.Add(1)
		return nil, errors.New("other")
	}))
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {})
	req, _ := http.NewRequest("GET", s.URL, nil)
	do(t, rt, req)
	req, _ = http.NewRequest("GET", "https://upstream.test/", nil)
	rt.RoundTrip(req)
	if other.Load() != 1 || s.Opened() != 1 {
		t.Errorf("other %d, plain %d", other.Load(), s.Opened())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Whatever an upstream answers, the request ends: an answer or an error,
// a body read to its end or to an error, never a panic or a wait.
func FuzzAnswer(f *testing.F) {
	for _, s := range []string{
		okAnswer,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil the end",
		"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"garbage",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, answer string) {
		tr := &Transport{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			client, server := net.Pipe()
			go func() {
				defer server.Close()
				if _, err := readRequest(bufio.NewReader(server)); err != nil {
					return
				}
				io.WriteString(server, answer)
			}()
			return client, nil
		}}
		defer tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://upstream.test/v1", strings.NewReader("{}"))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if ctx.Err() != nil {
			t.Fatalf("answer %q: still reading after 5 s", answer)
		}
	})
}

// BenchmarkRoundTrip sends a 2 kB POST and reads a 1 kB answer over a
// kept connection, through this transport and through net/http's, in the
// same run.
func BenchmarkRoundTrip(b *testing.B) {
	answer := []byte(strings.Repeat("a", 1024))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write(answer)
	}))
	defer s.Close()
	body := strings.Repeat("b", 2048)
	dial := upconn.WrapDial((&net.Dialer{}).DialContext)
	for _, c := range []struct {
		name string
		rt   interface {
			http.RoundTripper
			CloseIdleConnections()
		}
	}{
		{"h1", &Transport{Dial: dial, MaxIdlePerHost: 64}},
		{"net-http", &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 64}},
	} {
		b.Run(c.name, func(b *testing.B) {
			defer c.rt.CloseIdleConnections()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 4096)
				for pb.Next() {
					ctx, cancel := context.WithCancel(context.Background())
					req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/v1/chat/completions", strings.NewReader(body))
					resp, err := c.rt.RoundTrip(req)
					if err != nil {
						b.Fatal(err)
					}
					for {
						if _, err := resp.Body.Read(buf); err != nil {
							break
						}
					}
					resp.Body.Close()
					cancel()
				}
			})
		})
	}
}

// An upstream that refuses a body too large answers before it has read
// it, and closes: the answer is what the caller gets, not the failed write
// of the rest.
func TestAnAnswerBeforeTheBodyWasSentIsReturned(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1024)); err != nil {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		}
	})
	tr := newTransport(t)
	for range 3 {
		req, _ := http.NewRequest("POST", s.URL, strings.NewReader(strings.Repeat("x", 32<<20)))
		resp, body := do(t, tr, req)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || body != "request too large\n" {
			t.Fatalf("status %d, body %q", resp.StatusCode, body)
		}
	}
}

// A request that asks for its connection to be closed, and an HTTP/1.0
// answer without keep-alive, leave their connections unkept, whatever
// the server does.
func TestConnectionsAskedToCloseAreNotKept(t *testing.T) {
	var conns atomic.Int32
	base := rawServer(t, func(n int, c net.Conn) {
		conns.Add(1)
		br := bufio.NewReader(c)
		for {
			req, err := readRequest(br)
			if err != nil {
				return
			}
			if req.URL.Path == "/http10" {
				io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
				continue // and keep the connection open: the client must not use it
			}
			io.WriteString(c, okAnswer) // never Connection: close
		}
	})
	tr := newTransport(t)
	for i, mk := range []func() *http.Request{
		func() *http.Request {
			r, _ := http.NewRequest("GET", base, nil)
			r.Header.Set("Connection", "close")
			return r
		},
		func() *http.Request { r, _ := http.NewRequest("GET", base+"/http10", nil); return r },
		func() *http.Request { r, _ := http.NewRequest("GET", base, nil); return r },
	} {
		if _, body := do(t, tr, mk()); body != "ok" {
			t.Fatalf("request %d: %q", i, body)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections for three requests, want 3", n)
	}
}

// A body closed while a read of it waits (the relay's client went away)
// ends that read with errClosed, not the closed connection's error.
func TestCloseDuringARead(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	tr := newTransport(t)
	req, _ := http.NewRequest("GET", s.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, func() { resp.Body.Close() })
	if _, err := resp.Body.Read(make([]byte, 16)); err != errClosed {
		t.Errorf("error %v, want errClosed", err)
	}
}

// An upstream that refuses a large body at once and then neither reads
// the rest nor closes: its answer comes back while the body is still
// being written, and the connection, half written, is not kept.
func TestAnAnswerWhileALargeBodyIsRefused(t *testing.T) {
	var conns atomic.Int32
	stop := make(chan struct{})
	base := rawServer(t, func(n int, c net.Conn) {
		conns.Add(1)
		br := bufio.NewReader(c)
		if n > 0 {
			if _, err := readRequest(br); err == nil {
				io.WriteString(c, okAnswer)
			}
			return
		}
		if _, err := http.ReadRequest(br); err != nil { // the header only
			return
		}
		io.WriteString(c, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 7\r\n\r\nrefused")
		<-stop // and read nothing more
	})
	t.Cleanup(func() { close(stop) }) // before rawServer's: its wait needs this serve to return
	tr := newTransport(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", base, strings.NewReader(strings.Repeat("x", 16<<20)))
	resp, body := do(t, tr, req)
	if resp.StatusCode != http.StatusUnauthorized || body != "refused" || ctx.Err() != nil {
		t.Fatalf("status %d, body %q, context %v", resp.StatusCode, body, ctx.Err())
	}
	req, _ = http.NewRequest("GET", base, nil)
	if _, body := do(t, tr, req); body != "ok" {
		t.Fatalf("next request: %q", body)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2: the half-written one is not kept", n)
	}
}

// AtEOF is true once Read has returned the body's end, and never for a
// body closed or failed before it: a stream's end then needs no read.
func TestAtEOF(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("part one, "))
		w.(http.Flusher).Flush()
		w.Write([]byte("part two"))
	})
	tr := newTransport(t)
	atEOF := func(resp *http.Response) bool { return resp.Body.(interface{ AtEOF() bool }).AtEOF() }
	req, _ := http.NewRequest("GET", s.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if atEOF(resp) {
		t.Error("AtEOF before any read")
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if !atEOF(resp) {
		t.Error("not AtEOF after reading to the end")
	}
	resp.Body.Close()
	if !atEOF(resp) {
		t.Error("not AtEOF after closing a body read to its end")
	}
	resp, err = tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if atEOF(resp) {
		t.Error("AtEOF after closing a body before its end")
	}
}
