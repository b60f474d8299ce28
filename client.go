package llmbridge

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"golang.org/x/net/proxy"
)

// upstream is one provider with its own transport and connection pool.
// The attempt loop (retry.go) sends through it.
type upstream struct {
	p         Provider       // the first key's provider
	keys      []*providerKey // one per key (route_keys.go), sharing the transport
	next      atomic.Uint64  // key rotation
	name      string
	transport *http.Transport
	client    *http.Client
}

// newUpstream builds p's transport: dial and header timeouts, HTTP/2, an
// idle pool sized for load, and the provider's proxy if it has one.
func newUpstream(p Provider, s providerSettings, cfg *config) *upstream {
	dialer := &net.Dialer{Timeout: cfg.timeouts.Connect, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        0, // no global cap; the per-host cap applies
		MaxIdleConnsPerHost: cfg.maxIdle,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: cfg.timeouts.Connect,
		// No ResponseHeaderTimeout: streams and non-streamed calls wait
		// differently long for headers; the attempt loop times each.
		ExpectContinueTimeout: time.Second,
	}
	if s.proxy != nil {
		useProxy(tr, dialer, s.proxy, cfg.timeouts.Connect)
	}
	// One client per upstream: its transport is the shared pool. It never
	// follows a redirect (see refuseRedirect).
	keys := providerKeys(p)
	client := &http.Client{Transport: tr, CheckRedirect: refuseRedirect}
	return &upstream{p: keys[0].p, keys: keys, name: p.Name(), transport: tr, client: client}
}

// refuseRedirect is every upstream client's CheckRedirect: the 3xx
// response itself comes back to the attempt loop, which drains it and
// answers 502 (redirectError). Following it would re-send the provider's
// key headers (x-api-key, x-goog-api-key, configured ones: on a redirect
// to another host net/http drops only Authorization, WWW-Authenticate and
// cookies) to wherever Location points, and relay what an internal
// address answers to the client.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// useProxy routes tr's connections through proxy. Failures to reach or
// pass the proxy are *proxyError values naming its host only. A SOCKS dial,
// handshake included, gets the connect timeout: a proxy that accepts and
// then says nothing must not hold a request for its whole duration.
func useProxy(tr *http.Transport, base *net.Dialer, px *url.URL, connect time.Duration) {
	host := px.Host
	switch px.Scheme {
	case "http", "https":
		// CONNECT for https upstreams, absolute-form requests for http ones;
		// the transport sends Proxy-Authorization from the URL's user info.
		tr.Proxy = http.ProxyURL(px)
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := base.DialContext(ctx, network, addr)
			if err != nil && addr == host {
				return nil, &proxyError{host: host, err: err}
			}
			return c, err
		}
	case "socks5", "socks5h":
		var auth *proxy.Auth
		if px.User != nil {
			pw, _ := px.User.Password()
			auth = &proxy.Auth{User: px.User.Username(), Password: pw}
		}
		d, _ := proxy.SOCKS5("tcp", host, auth, base) // errors only for a nil forward dialer
		socks := d.(proxy.ContextDialer)
		resolveLocally := px.Scheme == "socks5"
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, connect)
			defer cancel()
			if resolveLocally {
				h, port, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				if net.ParseIP(h) == nil {
					ips, err := net.DefaultResolver.LookupIPAddr(ctx, h)
					if err != nil {
						return nil, err
					}
					addr = net.JoinHostPort(ips[0].IP.String(), port)
				}
			}
			c, err := socks.DialContext(ctx, network, addr)
			if err != nil {
				return nil, &proxyError{host: host, err: err}
			}
			return c, nil
		}
	}
}

// proxyError is a failure to connect through a proxy. Its text names the
// proxy's host and never its credentials.
type proxyError struct {
	host string
	err  error
}

func (e *proxyError) Error() string { return "proxy " + e.host + ": " + e.err.Error() }
func (e *proxyError) Unwrap() error { return e.err }
