//go:build unix

package upconn

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair returns a wrapped client end and the server end of a loopback TCP
// connection.
func pair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	w, ok := Wrap(c).(*Conn)
	if !ok {
		t.Fatal("a TCP connection was not wrapped")
	}
	t.Cleanup(func() { w.Close(); s.Close() })
	return w, s
}

// readSoon reads with a deadline, so that a read that waits for a peer
// that never writes fails the test instead of hanging it.
func readSoon(t *testing.T, c *Conn, p []byte) (int, error) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return c.Read(p)
}

// An armed read that finds bytes waiting (on a connection whose last
// read did not wait) returns them without calling the armed function;
// one that would wait calls it first, once, and then waits: here the
// function is what makes the peer write, so a read that waited without
// calling it would time out.
func TestArmedReadCallsBeforeWaiting(t *testing.T) {
	c, s := pair(t)
	var calls atomic.Int32
	f := func() error {
		if calls.Add(1) == 1 {
			go s.Write([]byte("world"))
		}
		return nil
	}
	c.Arm(&f)
	if _, err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the bytes are in the socket
	buf := make([]byte, 64)
	if n, err := readSoon(t, c, buf); err != nil || string(buf[:n]) != "hello" || calls.Load() != 0 {
		t.Fatalf("bytes waiting: %q %v, %d calls", buf[:n], err, calls.Load())
	}
	if n, err := readSoon(t, c, buf); err != nil || string(buf[:n]) != "world" || calls.Load() != 1 {
		t.Fatalf("nothing waiting: %q %v, %d calls", buf[:n], err, calls.Load())
	}
	c.Disarm(&f)
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.Write([]byte("!"))
	}()
	if n, err := readSoon(t, c, buf); err != nil || string(buf[:n]) != "!" || calls.Load() != 1 {
		t.Fatalf("disarmed: %q %v, %d calls", buf[:n], err, calls.Load())
	}
}

// A failing armed function ends the read with its error at once.
func TestArmedFunctionErrorEndsTheRead(t *testing.T) {
	c, _ := pair(t)
	gone := errors.New("client gone")
	f := func() error { return gone }
	c.Arm(&f)
	start := time.Now()
	if n, err := readSoon(t, c, make([]byte, 8)); n != 0 || err != gone {
		t.Fatalf("read %d, %v", n, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the read waited %v", d)
	}
}

// Armed, the peer's close is io.EOF, a deadline a timeout and a closed
// connection net.ErrClosed, each an *net.OpError of a read as net.Conn
// reports them.
func TestArmedReadErrorsAreTheConnections(t *testing.T) {
	c, s := pair(t)
	f := func() error { return nil }
	c.Arm(&f)

	if err := c.SetReadDeadline(time.Now().Add(30 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 8))
	var oe *net.OpError
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &oe) || oe.Op != "read" || !oe.Timeout() {
		t.Errorf("deadline: %#v", err)
	}

	s.Close()
	if n, err := readSoon(t, c, make([]byte, 8)); n != 0 || err != io.EOF {
		t.Errorf("peer closed: %d %v", n, err)
	}

	c.Close()
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) || !errors.As(err, &oe) || oe.Op != "read" {
		t.Errorf("closed: %v", err)
	}
}

// Disarm takes back only its own arming.
func TestDisarmIsTheArmers(t *testing.T) {
	c, _ := pair(t)
	f, g := func() error { return nil }, func() error { return nil }
	c.Arm(&g)
	c.Disarm(&f)
	if c.armed.Load() != &g {
		t.Fatal("Disarm(f) undid Arm(g)")
	}
	c.Disarm(&g)
	if c.armed.Load() != nil {
		t.Fatal("Disarm(g) left g armed")
	}
}

// Through a real transport: Of finds the HTTP/1 connection of a tracked
// request, the relay's reads call the armed function only where they
// wait, and the transport's own read of the pooled connection after the
// body's end never calls it.
func TestTrackedHTTP1Body(t *testing.T) {
	proceed := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("part one;"))
		w.(http.Flusher).Flush()
		select {
		case <-proceed:
		case <-time.After(5 * time.Second): // a relay that was never told would wait forever
		}
		w.Write([]byte("part two"))
	}))
	defer srv.Close()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(c), nil
	}}
	defer tr.CloseIdleConnections()

	req, _ := http.NewRequestWithContext(Track(context.Background()), http.MethodGet, srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	c := Of(resp)
	if c == nil {
		t.Fatal("Of found no connection for an HTTP/1 response")
	}
	var calls atomic.Int32
	f := func() error {
		if calls.Add(1) == 1 {
			close(proceed)
		}
		return nil
	}
	var body []byte
	buf := make([]byte, 4)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.Arm(&f)
		n, err := resp.Body.Read(buf)
		c.Disarm(&f)
		body = append(body, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	resp.Body.Close()
	if string(body) != "part one;part two" {
		t.Fatalf("body %q", body)
	}
	// The transport reads the idle connection for the next answer; that
	// read waits, and must not call the relay's function.
	for range 20 {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the armed function was called %d times, want 1 (the wait between the parts)", n)
	}

	// An untracked request: Of knows nothing of it.
	resp, err = tr.RoundTrip(httptest.NewRequest(http.MethodGet, srv.URL, nil).WithContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if Of(resp) != nil {
		t.Error("Of found a connection for an untracked request")
	}
}

// Over TLS, Of finds the connection beneath an HTTP/1 response, and none
// for an HTTP/2 one (its connection carries other streams).
func TestTrackedTLS(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
		srv.EnableHTTP2 = h2
		srv.StartTLS()
		tr := srv.Client().Transport.(*http.Transport).Clone()
		tr.ForceAttemptHTTP2 = h2
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return Wrap(c), nil
		}
		req, _ := http.NewRequestWithContext(Track(context.Background()), http.MethodGet, srv.URL, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := Of(resp) != nil; got == h2 || resp.ProtoMajor != map[bool]int{false: 1, true: 2}[h2] {
			t.Errorf("HTTP/%d: Of found a connection: %v", resp.ProtoMajor, got)
		}
		tr.CloseIdleConnections()
		srv.Close()
	}
}

// A connection that is not TCP is not wrapped.
func TestWrapLeavesOthers(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a) != a {
		t.Error("a pipe was wrapped")
	}
}

// The armed function runs with no lock of the connection held: closing
// the connection (the transport cancelling the request) does not wait for
// it, however long a slow client makes the flush take; the read then
// ends with the close.
func TestCloseDoesNotWaitForTheArmedFunction(t *testing.T) {
	c, _ := pair(t)
	started, release := make(chan struct{}), make(chan struct{})
	f := func() error {
		close(started)
		<-release
		return nil
	}
	c.Arm(&f)
	read := make(chan error, 1)
	go func() {
		_, err := readSoon(t, c, make([]byte, 8))
		read <- err
	}()
	<-started
	closed := make(chan struct{})
	go func() {
		c.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Error("Close waited for the armed function")
	}
	close(release)
	if err := <-read; !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after the close: %v", err)
	}
}

// Bytes that arrive while the armed function runs (the peer answers
// during the client's flush) end the read at once: the wait after the
// function must not miss the readiness they brought.
func TestBytesArrivingDuringTheFunctionEndTheRead(t *testing.T) {
	c, s := pair(t)
	f := func() error {
		if _, err := s.Write([]byte("during")); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond) // the bytes are in the socket, readiness noted
		return nil
	}
	c.Arm(&f)
	start := time.Now()
	buf := make([]byte, 16)
	n, err := readSoon(t, c, buf)
	if err != nil || string(buf[:n]) != "during" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the read took %v: it waited for bytes that were there", d)
	}
}

// NewBody arms its connection for each read: a flush that fails ends the
// read with its error, and once a read has ended with an error the body
// arms nothing more (the connection may serve another request).
func TestBodyArmsEachReadUntilItsEnd(t *testing.T) {
	c, s := pair(t)
	gone := errors.New("client gone")
	var calls atomic.Int32
	b := NewBody(c, c, func() error {
		calls.Add(1)
		return gone
	})
	if n, err := b.Read(make([]byte, 8)); n != 0 || err != gone {
		t.Fatalf("read %d, %v; want the flush's error", n, err)
	}
	if c.armed.Load() != nil {
		t.Error("the read left the connection armed")
	}
	s.Write([]byte("late"))
	buf := make([]byte, 8)
	if n, err := readSoon(t, c, buf); err != nil || string(buf[:n]) != "late" {
		t.Fatalf("unarmed read %q %v", buf[:n], err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.Write([]byte("after"))
	}()
	if n, err := b.Read(buf); err != nil || string(buf[:n]) != "after" || calls.Load() != 1 {
		t.Errorf("after the end: %q %v, the flush called %d times; want 1", buf[:n], err, calls.Load())
	}
}

// A peer that sends one event at a time, each some time after the relay
// flushed the one before (a model writing tokens), costs two reads an
// event: the one that finds nothing and waits, and the one that gets the
// event. Reading first, as for a burst, made it three: a read that found
// nothing before the flush, then the waiting read's two.
func TestPacedPeerCostsNoReadBeforeTheFlush(t *testing.T) {
	c, s := pair(t)
	var reads atomic.Int32
	sysRead = func(fd int, p []byte) (int, error) {
		reads.Add(1)
		return syscall.Read(fd, p)
	}
	t.Cleanup(func() { sysRead = syscall.Read })
	const events = 20
	flushed := make(chan struct{}, 1)
	f := func() error {
		select {
		case flushed <- struct{}{}:
		default:
		}
		return nil
	}
	c.Arm(&f)
	done := make(chan error, 1)
	go func() {
		for range events {
			select {
			case <-flushed:
			case <-time.After(5 * time.Second):
				done <- errors.New("no flush")
				return
			}
			time.Sleep(2 * time.Millisecond) // the relay is waiting by then
			if _, err := s.Write([]byte("data: x\n\n")); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	buf := make([]byte, 64)
	for i := range events {
		if n, err := readSoon(t, c, buf); err != nil || string(buf[:n]) != "data: x\n\n" {
			t.Fatalf("event %d: %q %v", i, buf[:n], err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// 2 an event and the first read's probe; 3 an event before.
	if n := reads.Load(); n > events*5/2 {
		t.Errorf("%d reads for %d paced events, want about %d", n, events, 2*events+1)
	}
}
