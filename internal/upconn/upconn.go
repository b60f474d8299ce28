// Package upconn tells a stream relay when a read of its upstream
// connection is about to wait for the peer, so that it flushes its client
// then, and not before every read.
//
// A relay that flushed before every read of the upstream body wrote a
// burst of events — which arrives in several reads: the transport's
// buffer, then the socket's — in as many writes to the client. Here the
// relay arms the connection (Conn.Arm) around each read; the connection
// calls the armed function when the kernel has nothing to read (EAGAIN),
// just before the read parks until the peer sends more, so a burst's
// reads flush nothing until it ends, and an event still never waits in a
// buffer while the bridge waits for the upstream. After a read that
// waited and brought less than it could hold, the peer is sending at its
// own pace (a model writing tokens): the next read calls the function
// first, without the read that would only find nothing, and goes back to
// reading first once a read finds bytes at once or fills its buffer.
//
// Only HTTP/1 connections dialled by the bridge's transport take part
// (Wrap, Track, Of). An HTTP/2 connection carries other streams and is
// read by the transport's own goroutine; a connection this platform cannot
// read that way is left as it is. For those, Of answers nil and the relay
// flushes before every read as before.
package upconn

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"syscall"
)

// Conn is an upstream connection that may be armed (Arm): while it is,
// a read that would wait for the peer first calls the armed function.
// Unarmed, it is the connection it wraps.
type Conn struct {
	net.Conn
	raw   syscall.RawConn
	armed atomic.Pointer[func() error]
	paced atomic.Bool // the last armed read waited for the peer and brought less than it could hold (readArmed)

	peek     func(fd uintptr) bool // Idle's callback, made at its first call
	peekIdle bool                  // what peek found
}

// Wrap returns c as a *Conn when this platform can tell that a read of it
// would wait (a TCP connection on a Unix system), and c itself otherwise.
func Wrap(c net.Conn) net.Conn {
	// Exactly a *net.TCPConn: an armed read goes to the socket itself,
	// past the Read of any type wrapping one.
	tcp, ok := c.(*net.TCPConn)
	if !ok || !canWatch {
		return c
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return c
	}
	return &Conn{Conn: c, raw: raw}
}

// WrapDial returns dial with its connections wrapped (Wrap): a
// transport's DialContext.
func WrapDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(c), nil
	}
}

// Read reads as the connection beneath does; armed, it calls the armed
// function before it waits for the peer (or, when the peer is sending at
// its own pace, before it reads: readArmed), at most once and with no
// lock of the connection held, and ends with that function's error,
// without waiting, when it fails.
func (c *Conn) Read(p []byte) (int, error) {
	if c.armed.Load() == nil || len(p) == 0 {
		return c.Conn.Read(p)
	}
	return c.readArmed(p)
}

// Arm has *f called before a read of c waits for the peer (Read), until
// Disarm.
func (c *Conn) Arm(f *func() error) { c.armed.Store(f) }

// Disarm undoes Arm(f); it leaves c alone when something else armed it
// since.
func (c *Conn) Disarm(f *func() error) { c.armed.CompareAndSwap(f, nil) }

// beforeWait is what an armed read calls before it waits for the peer:
// the armed function's error, nil when none is armed (any more).
func (c *Conn) beforeWait() error {
	if f := c.armed.Load(); f != nil {
		return (*f)()
	}
	return nil
}

// slot is what Track records of a request's connection.
type slot struct {
	trace httptrace.ClientTrace
	conn  atomic.Pointer[Conn]
}

type slotKey struct{}

// Track returns ctx with a trace that notes the connection its request is
// sent on (Of reads it), and disarms that connection when the transport
// puts it back in its pool: the transport's own next read of it (the next
// answer's first byte) then never calls a function the finished relay
// armed.
func Track(ctx context.Context) context.Context {
	s := &slot{}
	s.trace.GotConn = func(info httptrace.GotConnInfo) { s.conn.Store(watched(info.Conn)) }
	s.trace.PutIdleConn = func(error) {
		if c := s.conn.Load(); c != nil {
			c.armed.Store(nil)
		}
	}
	return context.WithValue(httptrace.WithClientTrace(ctx, &s.trace), slotKey{}, s)
}

// watched is the *Conn beneath c, a TLS connection's included; nil when
// there is none.
func watched(c net.Conn) *Conn {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	w, _ := c.(*Conn)
	return w
}

// Of returns the connection an HTTP/1 response of a Track'ed request came
// on, when it is a *Conn; nil otherwise (HTTP/2, a connection not
// wrapped, a request not tracked).
func Of(resp *http.Response) *Conn {
	if resp.ProtoMajor != 1 || resp.Request == nil {
		return nil
	}
	s, _ := resp.Request.Context().Value(slotKey{}).(*slot)
	if s == nil {
		return nil
	}
	return s.conn.Load()
}
