package lifecycle

import (
	"context"
	"net"
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
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
}
