package coldstart

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Dialer is an http.Transport's DialTLSContext that opens one connection
// at a time to an HTTP/2 host: a burst that finds every connection at the
// upstream's stream limit (a warm pool, so the Gate lets it through) no
// longer dials a TLS connection per request.
//
// net/http dials for each request that finds no HTTP/2 connection able to
// take another stream, and all of them at once: it runs its HTTP/2 pool
// in a mode that never dials (x/net/http2's own dials one connection a
// host at a time) and dials in its own connection code. Here a dial to a
// host whose dial is in flight waits for it. When that dial brings an
// HTTP/2 connection, the waiting dials are not made: net/http hands the
// new connection to the requests waiting for one, and a dial it still
// needs is asked again (the Gate sends its request again, see
// ErrSuperseded: a Dialer belongs behind a Gate). When it fails, one
// waiting dial takes its place; when the host speaks HTTP/1, every dial
// goes on at once, and the host's dials never wait again.
type Dialer struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	tr   *http.Transport // its TLSClientConfig and TLSHandshakeTimeout, read at each dial
	wait time.Duration   // the longest a dial waits for another

	mu    sync.Mutex
	hosts map[string]*dialHost
}

// dialHost is the Dialer's state for one address.
type dialHost struct {
	busy  bool          // a dial is in flight
	done  chan struct{} // closed when it ends
	gen   uint64        // HTTP/2 connections this Dialer opened to the address
	http1 bool          // the host spoke HTTP/1: dials never wait
}

// ErrSuperseded is the error of a dial that was not made because the dial
// it waited for brought an HTTP/2 connection that the request may share.
// Nothing was sent: the Gate sends the request again.
var ErrSuperseded = errors.New("coldstart: the dial was superseded by another connection to the host")

// NewDialer returns a Dialer for tr: it dials TCP with tr.DialContext (or
// a net.Dialer) and does the TLS handshake as net/http would, with a copy
// of tr.TLSClientConfig as net/http has set it up by then (its ALPN
// protocols name HTTP/2 only when tr speaks it) within
// tr.TLSHandshakeTimeout; a dial waits at most wait for another. Install
// it as tr.DialTLSContext, behind a Gate; net/http does not use it for
// requests through an HTTP proxy, which dials the proxy.
func NewDialer(tr *http.Transport, wait time.Duration) *Dialer {
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	return &Dialer{dial: dial, tr: tr, wait: wait, hosts: map[string]*dialHost{}}
}

// Front makes tr's HTTPS dials one at a time a host (a Dialer, unless tr
// goes through an HTTP proxy, which net/http dials itself) and returns a
// Gate in front of it. connect is the connect timeout: a request waits at
// most a dial's and a handshake's time (2×connect) for a cold host's
// first connection, a dial at most connect for another; idle is the
// Gate's.
func Front(tr *http.Transport, connect, idle time.Duration) *Gate {
	if tr.Proxy == nil {
		tr.DialTLSContext = NewDialer(tr, connect).DialTLSContext
	}
	return New(tr, 2*connect, idle)
}

// DialTLSContext opens a TLS connection to addr, first waiting while
// another dial to addr is in flight; it is ErrSuperseded when that one
// brought an HTTP/2 connection.
func (d *Dialer) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	h, err := d.turn(ctx, addr)
	if err != nil {
		return nil, err
	}
	c, err := d.dialTLS(ctx, network, addr)
	if h != nil {
		d.mu.Lock()
		h.busy = false
		close(h.done)
		if err == nil {
			if c.ConnectionState().NegotiatedProtocol == "h2" {
				h.gen++
			} else {
				h.http1 = true
			}
		}
		d.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// turn waits until this dial to addr may go: it returns the host whose
// dial it now is (nil: it goes without the host's turn), or ErrSuperseded,
// or ctx's error.
func (d *Dialer) turn(ctx context.Context, addr string) (*dialHost, error) {
	var deadline *time.Timer
	defer func() {
		if deadline != nil {
			deadline.Stop()
		}
	}()
	for {
		d.mu.Lock()
		h := d.hosts[addr]
		if h == nil {
			if len(d.hosts) >= maxHosts {
				d.mu.Unlock()
				return nil, nil
			}
			h = &dialHost{}
			d.hosts[addr] = h
		}
		switch {
		case h.http1:
			d.mu.Unlock()
			return nil, nil
		case !h.busy:
			h.busy, h.done = true, make(chan struct{})
			d.mu.Unlock()
			return h, nil
		}
		done, gen := h.done, h.gen
		d.mu.Unlock()
		if deadline == nil {
			deadline = time.NewTimer(d.wait)
		}
		select {
		case <-done:
		case <-deadline.C:
			return nil, nil // the dial in flight is slow: this one goes anyway
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		d.mu.Lock()
		superseded := h.gen != gen && ctx.Value(mustDialKey{}) == nil
		d.mu.Unlock()
		if superseded {
			// The dial in flight has returned, but net/http hands its
			// connection to the waiting requests only after the HTTP/2
			// set-up: a request told too soon is sent again while the
			// connection still has streams free, and dials the next one.
			// What this dial returns is dropped when its request was
			// handed the connection meanwhile.
			select {
			case <-time.After(supersedeGrace):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return nil, ErrSuperseded
		}
	}
}

// supersedeGrace is how long a superseded dial waits before it says so.
const supersedeGrace = 20 * time.Millisecond

// dialTLS dials addr and does the TLS handshake, as net/http does when
// no DialTLSContext is set (its addTLS).
func (d *Dialer) dialTLS(ctx context.Context, network, addr string) (*tls.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{}
	if d.tr.TLSClientConfig != nil {
		cfg = d.tr.TLSClientConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	raw, err := d.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c := tls.Client(raw, cfg)
	hctx, cancel := ctx, context.CancelFunc(func() {})
	if t := d.tr.TLSHandshakeTimeout; t > 0 {
		hctx, cancel = context.WithTimeout(ctx, t)
	}
	defer cancel()
	if err := c.HandshakeContext(hctx); err != nil {
		raw.Close()
		if ctx.Err() == nil && hctx.Err() != nil {
			return nil, errHandshakeTimeout
		}
		return nil, err
	}
	return c, nil
}

// errHandshakeTimeout is net/http's error for a TLS handshake past
// TLSHandshakeTimeout, a timeout.
var errHandshakeTimeout error = handshakeTimeout{}

type handshakeTimeout struct{}

func (handshakeTimeout) Error() string   { return "net/http: TLS handshake timeout" }
func (handshakeTimeout) Timeout() bool   { return true }
func (handshakeTimeout) Temporary() bool { return true }

// mustDialKey marks a request's context (which net/http's dials keep the
// values of) whose dial is made even when superseded: the Gate's last
// try of a request superseded again and again, and the one try of a
// request whose body cannot be sent again.
type mustDialKey struct{}
