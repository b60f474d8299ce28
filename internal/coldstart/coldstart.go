// Package coldstart keeps a burst of requests to an HTTPS upstream from
// opening a connection each: when the upstream has no connection yet
// (Gate), and when every HTTP/2 connection it has is at the upstream's
// stream limit (Dialer). Front installs both.
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
// request to that host again. When the first request fails, a held one
// takes its place. A host that has seen no request for a while (its
// pool's connection may have closed) is cold again.
package coldstart

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// Gate is an http.RoundTripper in front of a transport for one upstream.
// It keeps a state per host (a custom provider may build URLs to
// several). It is safe for concurrent use.
type Gate struct {
	next http.RoundTripper
	wait time.Duration // the longest a request is held
	idle time.Duration // without a request for this long, a host is cold

	mu    sync.Mutex
	hosts map[string]*host
}

// host is the Gate's state for one host.
type host struct {
	state state
	ready chan struct{} // warming: closed when the first request has its connection, or failed
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
// wait (then it connects on its own; a connect timeout's worth for the
// TCP dial and as much again for the TLS handshake is right); after idle
// without a request a host is cold again (well under the transport's
// IdleConnTimeout: a wrong "cold" costs the first request of a burst its
// wait for a connection, a wrong "warm" the storm).
func New(next http.RoundTripper, wait, idle time.Duration) *Gate {
	return &Gate{next: next, wait: wait, idle: idle, hosts: map[string]*host{}}
}

// RoundTrip sends req through the transport, first holding it while
// another request opens its host's first connection. A request let go
// because that one failed takes its place, so that a failed dial does
// not release a storm either.
func (g *Gate) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" { // no TLS dial: nothing to supersede
		return g.next.RoundTrip(req)
	}
	var deadline *time.Timer
	defer func() {
		if deadline != nil {
			deadline.Stop()
		}
	}()
	for {
		now := time.Now()
		g.mu.Lock()
		h := g.hosts[req.URL.Host]
		if h == nil {
			if len(g.hosts) >= maxHosts { // a provider that makes up hosts: not held
				g.mu.Unlock()
				return g.send(req)
			}
			h = &host{}
			g.hosts[req.URL.Host] = h
		}
		if h.state == warm && now.Sub(h.last) > g.idle {
			h.state = cold
		}
		h.last = now
		switch h.state {
		case cold:
			h.state, h.ready = warming, make(chan struct{})
			ready := h.ready
			g.mu.Unlock()
			return g.first(req, h, ready)
		case warming:
			ready := h.ready
			g.mu.Unlock()
			if deadline == nil {
				deadline = time.NewTimer(g.wait)
			}
			select {
			case <-ready:
				continue // the host's state says what next
			case <-deadline.C:
			case <-req.Context().Done():
				if req.Body != nil {
					req.Body.Close() // a RoundTripper closes the body, also on error
				}
				return nil, req.Context().Err()
			}
			return g.send(req)
		default:
			g.mu.Unlock()
			return g.send(req)
		}
	}
}

// maxHosts bounds the hosts a Gate (and a Dialer) keeps state for.
const maxHosts = 64

// send is next.RoundTrip, sent again when its dial was superseded
// (Dialer): nothing went upstream, and the connection that superseded it
// may carry it. The last of maxSuperseded tries, and the only try of a
// request whose body cannot be had again, dial regardless.
func (g *Gate) send(req *http.Request) (*http.Response, error) {
	replay := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !replay { // it cannot be sent again: its dial is made in any case
		req = req.WithContext(context.WithValue(req.Context(), mustDialKey{}, true))
	}
	for try := 1; ; try++ {
		resp, err := g.next.RoundTrip(req)
		if err == nil || !errors.Is(err, ErrSuperseded) || !replay || try >= maxSuperseded {
			return resp, err
		}
		if cerr := req.Context().Err(); cerr != nil {
			return nil, cerr
		}
		if req.Body != nil && req.Body != http.NoBody {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, gerr
			}
			r := *req // a RoundTripper does not change its request
			r.Body = body
			req = &r
		}
		if try == maxSuperseded-1 {
			req = req.WithContext(context.WithValue(req.Context(), mustDialKey{}, true))
		}
	}
}

// maxSuperseded bounds the tries of a request whose dials are superseded.
const maxSuperseded = 8

// first sends the request that opens a cold host's connection and ends
// the warming when it has one, or has failed.
func (g *Gate) first(req *http.Request, h *host, ready chan struct{}) (*http.Response, error) {
	var once sync.Once
	end := func(s state) {
		once.Do(func() {
			g.mu.Lock()
			h.state = s
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
	resp, err := g.send(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	end(cold) // no connection (the dial failed): a held request goes first next
	return resp, err
}
