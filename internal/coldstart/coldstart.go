// Package coldstart keeps a burst of requests to an HTTPS upstream that
// has no connection yet from opening a connection each.
//
// net/http's transport dials one connection per request that finds none
// to use, and learns only after the TLS handshake that the upstream
// speaks HTTP/2, when one connection would have carried them all: the
// surplus connections are closed after their handshakes. A gateway that
// starts (or comes back after the pool's idle timeout) with a thousand
// streams waiting opened hundreds of TLS connections at once to the same
// provider: the upstream sees a handshake storm, and the handshakes'
// key shares (X25519MLKEM768) are live together in the gateway's memory.
//
// A Gate in front of the transport lets the first request of a cold
// upstream through alone and holds the others until that request has its
// connection (httptrace's GotConn). When the connection speaks HTTP/2 the
// held requests then share it, from net/http's pool; when it speaks
// HTTP/1 they go on at once to dial their own, and the Gate holds no
// request of that upstream again. A Gate that has seen no request for a
// while (its pool's connection may have closed) is cold again.
package coldstart

import (
	"crypto/tls"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// Gate is an http.RoundTripper in front of a transport for one upstream.
// It is safe for concurrent use.
type Gate struct {
	next http.RoundTripper
	wait time.Duration // the longest a request is held
	idle time.Duration // without a request for this long, the Gate is cold

	mu    sync.Mutex
	state state
	ready chan struct{} // warming: closed when the first request has its connection
	last  time.Time     // the last request's start
}

type state uint8

const (
	cold    state = iota
	warming       // the first request is connecting; the others wait on ready
	warm          // an HTTP/2 connection is in the pool
	http1         // the upstream speaks HTTP/1: nothing to share, never held
)

// New returns a Gate in front of next. A held request waits at most
// wait (the connect timeout: the first request is then slow, and the
// held ones connect on their own); after idle without a request the
// Gate is cold again (well under the transport's IdleConnTimeout: a
// cold Gate costs the first request of a burst its wait for a
// connection, a warm one that is wrong costs the storm).
func New(next http.RoundTripper, wait, idle time.Duration) *Gate {
	return &Gate{next: next, wait: wait, idle: idle}
}

// RoundTrip sends req through the transport, first holding it while
// another request opens the upstream's first connection.
func (g *Gate) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return g.next.RoundTrip(req)
	}
	now := time.Now()
	g.mu.Lock()
	if g.state == warm && now.Sub(g.last) > g.idle {
		g.state = cold
	}
	g.last = now
	switch g.state {
	case cold:
		g.state, g.ready = warming, make(chan struct{})
		ready := g.ready
		g.mu.Unlock()
		return g.first(req, ready)
	case warming:
		ready := g.ready
		g.mu.Unlock()
		t := time.NewTimer(g.wait)
		select {
		case <-ready:
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		}
		t.Stop()
	default:
		g.mu.Unlock()
	}
	return g.next.RoundTrip(req)
}

// first sends the request that opens a cold upstream's connection and
// ends the warming when it has one, or has failed.
func (g *Gate) first(req *http.Request, ready chan struct{}) (*http.Response, error) {
	var once sync.Once
	end := func(s state) {
		once.Do(func() {
			g.mu.Lock()
			if g.ready == ready {
				g.state = s
			}
			g.mu.Unlock()
			close(ready)
		})
	}
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if c, ok := info.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok && c.ConnectionState().NegotiatedProtocol == "h2" {
			end(warm)
			return
		}
		end(http1)
	}}
	resp, err := g.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	end(cold) // no connection (the dial failed): the next request tries again
	return resp, err
}
