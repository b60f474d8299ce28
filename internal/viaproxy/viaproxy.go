// Package viaproxy sends a transport's upstream connections through a
// proxy: HTTP CONNECT (and absolute-form requests) or SOCKS5, with the
// connect timeout on the whole SOCKS handshake. Its errors name the
// proxy's host, never its credentials.
package viaproxy

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/proxy"

	"github.com/llmbridge/llmbridge/internal/upconn"
)

// Use routes tr's connections through px. Failures to reach or pass the
// proxy are *Error values naming its host only. A SOCKS dial,
// handshake included, gets the connect timeout: a proxy that accepts and
// then says nothing must not hold a request for its whole duration.
func Use(tr *http.Transport, base *net.Dialer, px *url.URL, connect time.Duration) {
	host := px.Host
	switch px.Scheme {
	case "http", "https":
		// CONNECT for https upstreams, absolute-form requests for http ones;
		// the transport sends Proxy-Authorization from the URL's user info.
		tr.Proxy = http.ProxyURL(px)
		tr.DialContext = upconn.WrapDial(func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := base.DialContext(ctx, network, addr)
			if err != nil && addr == host {
				return nil, &Error{Host: host, Err: err}
			}
			return c, err
		})
	case "socks5", "socks5h":
		var auth *proxy.Auth
		if px.User != nil {
			pw, _ := px.User.Password()
			auth = &proxy.Auth{User: px.User.Username(), Password: pw}
		}
		d, _ := proxy.SOCKS5("tcp", host, auth, base) // errors only for a nil forward dialer
		socks := d.(proxy.ContextDialer)
		resolveLocally := px.Scheme == "socks5"
		tr.DialContext = upconn.WrapDial(func(ctx context.Context, network, addr string) (net.Conn, error) {
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
				return nil, &Error{Host: host, Err: err}
			}
			return c, nil
		})
	}
}

// Error is a failure to connect through a proxy. Its text names the
// proxy's host and never its credentials.
type Error struct {
	Host string // the proxy's host:port
	Err  error
}

func (e *Error) Error() string { return "proxy " + e.Host + ": " + e.Err.Error() }

// Unwrap returns the failure beneath.
func (e *Error) Unwrap() error { return e.Err }
