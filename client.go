package llmbridge

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/net/proxy"
)

// upstream is one provider with its own transport and connection pool.
type upstream struct {
	p         Provider
	raw       OpenAIWire // nil unless p implements it
	name      string
	transport *http.Transport
	client    *retryablehttp.Client
}

// newUpstream builds p's transport: dial and header timeouts, HTTP/2, an
// idle pool sized for load, and the provider's proxy if it has one.
func newUpstream(p Provider, s providerSettings, cfg *config) *upstream {
	dialer := &net.Dialer{Timeout: cfg.timeouts.Connect, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          0, // no global cap; the per-host cap applies
		MaxIdleConnsPerHost:   cfg.maxIdle,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.timeouts.Connect,
		ResponseHeaderTimeout: cfg.timeouts.Header,
		ExpectContinueTimeout: time.Second,
	}
	if s.proxy != nil {
		useProxy(tr, dialer, s.proxy, cfg.timeouts.Connect)
	}
	u := &upstream{p: p, name: p.Name(), transport: tr}
	u.raw, _ = p.(OpenAIWire)
	retry := cfg.retry
	u.client = &retryablehttp.Client{
		// retryablehttp closes all idle connections after a failed call;
		// hiding CloseIdleConnections keeps the shared pool warm.
		HTTPClient:   &http.Client{Transport: poolKeeper{tr}},
		RetryWaitMin: retry.MinBackoff,
		RetryWaitMax: retry.MaxBackoff,
		RetryMax:     retry.Max,
		CheckRetry:   retry.checkRetry,
		Backoff:      retry.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return u
}

// statusOverloaded is Anthropic's "overloaded" status, a 503 in spirit.
const statusOverloaded = 529

// poolKeeper is a RoundTripper without CloseIdleConnections.
type poolKeeper struct{ rt http.RoundTripper }

func (k poolKeeper) RoundTrip(r *http.Request) (*http.Response, error) { return k.rt.RoundTrip(r) }

// send performs build's request with retries and returns a 2xx response,
// or an *APIError (the upstream's own for non-2xx responses).
func (u *upstream) send(ctx context.Context, req *http.Request) (*http.Response, error) {
	rreq := &retryablehttp.Request{Request: req}
	if getBody, n := req.GetBody, req.ContentLength; getBody != nil {
		// Replay the body from the provider's bytes on each attempt
		// (SetBody replaces req.GetBody, so keep the original). SetBody
		// cannot see the length through GetBody's NopCloser and sets 0,
		// which would make the transport probe the body and send it
		// chunked: put the real length back.
		if err := rreq.SetBody(retryablehttp.ReaderFunc(func() (io.Reader, error) { return getBody() })); err != nil {
			return nil, err
		}
		rreq.ContentLength = n
	} else if req.Body != nil && req.Body != http.NoBody {
		if err := rreq.SetBody(req.Body); err != nil {
			return nil, err
		}
	}
	resp, err := u.client.Do(rreq)
	if err != nil {
		return nil, asAPIError(ctx, u.name, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		derr := u.p.DecodeError(resp)
		var ae *APIError
		if !errors.As(derr, &ae) {
			ae = &APIError{Status: resp.StatusCode, Type: ErrorTypeUpstream, Provider: u.name, Err: derr,
				Message: "upstream " + u.name + " returned HTTP " + strconv.Itoa(resp.StatusCode)}
		}
		if ae.Status == 0 {
			ae.Status = resp.StatusCode
		}
		return nil, ae
	}
	return resp, nil
}

// checkRetry retries connect errors and 429, 502, 503, 504 and 529
// (Anthropic's "overloaded") responses,
// never after the caller's context ended, and not when the upstream asks to
// wait longer than MaxRetryAfter.
func (p RetryPolicy) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, nil
	}
	if err != nil {
		return isConnectError(err), nil
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, statusOverloaded:
		if d, ok := retryAfter(resp.Header, time.Now()); ok && d > p.MaxRetryAfter {
			return false, nil
		}
		return true, nil
	}
	return false, nil
}

// backoff waits what the upstream's Retry-After asks (bounded), otherwise
// exponential backoff from min to max with full jitter.
func (p RetryPolicy) backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := retryAfter(resp.Header, time.Now()); ok {
			return minDur(d, p.MaxRetryAfter)
		}
	}
	return jitter(min, max, attempt, rand.Int64N)
}

// jitter returns a random duration in [0, min(max, min·2^attempt)].
func jitter(min, max time.Duration, attempt int, randN func(int64) int64) time.Duration {
	ceil := max
	if attempt < 30 {
		ceil = minDur(max, min<<attempt)
	}
	if ceil <= 0 {
		return 0
	}
	return time.Duration(randN(int64(ceil) + 1))
}

// retryAfter parses retry-after-ms, then Retry-After in seconds or as an
// HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func minDur(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

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
