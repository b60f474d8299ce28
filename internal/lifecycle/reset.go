package lifecycle

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
)

type connKey struct{}

// ConnContext is an http.Server ConnContext: it keeps each connection in
// its requests' context, for ResetConn.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// ResetConn makes the close of the request's connection a reset (SO_LINGER
// 0): the kernel drops what it still holds to send at once instead of
// retrying it to a peer that stopped reading (llmbridge.WithClientCut). A
// context without a connection (no ConnContext) is left alone.
func ResetConn(ctx context.Context) {
	c, _ := ctx.Value(connKey{}).(net.Conn)
	if t, ok := c.(interface{ NetConn() net.Conn }); ok { // TLS
		c = t.NetConn()
	}
	if l, ok := c.(interface{ SetLinger(int) error }); ok { // *net.TCPConn, resetConn
		_ = l.SetLinger(0)
	}
}

// ResetListener wraps ln's TCP connections so that a write failing for its
// deadline — the client stopped reading for the whole write timeout —
// makes the connection's close a reset at once, as ResetConn does. It is
// needed besides ResetConn: when the write that fails is one net/http
// makes for the handler (a response's buffer filling), net/http closes
// the connection itself, before the handler returns to call ResetConn,
// and the close is a FIN with the unsent answer still queued. Only the
// connection's own Write is early enough for that case.
func ResetListener(ln net.Listener) net.Listener { return resetListener{ln} }

type resetListener struct{ net.Listener }

func (l resetListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tcp, ok := c.(*net.TCPConn); ok && err == nil {
		return &resetConn{tcp}, nil
	}
	return c, err
}

// resetConn is a TCP connection whose writes that pass their deadline
// make its close a reset.
type resetConn struct{ *net.TCPConn }

func (c *resetConn) Write(p []byte) (int, error) {
	n, err := c.TCPConn.Write(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		_ = c.SetLinger(0)
	}
	return n, err
}

// ReadFrom is the connection's own (splice, or a copy through the
// TCPConn's Write, not this one's), with Write's reset: net/http copies a
// body of known length with it.
func (c *resetConn) ReadFrom(r io.Reader) (int64, error) {
	n, err := c.TCPConn.ReadFrom(r)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		_ = c.SetLinger(0)
	}
	return n, err
}
