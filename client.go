package llmbridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/llmbridge/llmbridge/internal/coldstart"
	"github.com/llmbridge/llmbridge/internal/h1"
	"github.com/llmbridge/llmbridge/internal/health"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/reqbody"
	"github.com/llmbridge/llmbridge/internal/upconn"
	"github.com/llmbridge/llmbridge/internal/viaproxy"
)

// upstream is one provider with its own transport and connection pool.
// The attempt loop (retry.go) sends through it.
type upstream struct {
	p         Provider       // the first key's provider
	keys      []*providerKey // one per key, sharing the transport
	ring      *health.Ring   // the keys' states and rotation, in the order of keys
	name      string
	prefix    bool // PrefixOnly: no bare name resolves to it
	transport *http.Transport
	plain     *h1.Transport // http:// requests when there is no proxy (nil with one)
	client    *http.Client
}

// newUpstream builds p's transport: dial and header timeouts, HTTP/2, an
// idle pool sized for load, and the provider's proxy if it has one.
func newUpstream(p Provider, s providerSettings, cfg *config) *upstream {
	dialer := &net.Dialer{Timeout: cfg.timeouts.Connect, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:         upconn.WrapDial(dialer.DialContext),
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
		viaproxy.Use(tr, dialer, s.proxy, cfg.timeouts.Connect)
	}
	// One client per upstream: its transport is the shared pool, behind a
	// gate that lets a burst to a cold HTTPS upstream share the first
	// request's HTTP/2 connection rather than dial one each, and whose TLS
	// dials go one at a time a host, so a burst past a warm pool's stream
	// limit does not either (coldstart.Front: cold again after a third of
	// IdleConnTimeout). It never follows a redirect (see refuseRedirect).
	//
	// Without a proxy, http:// requests (a model server on the host or the
	// local network) go through h1's transport, which keeps no goroutine
	// a connection and reads each answer where it is read; where it can
	// look at an idle connection before it reuses it (upconn.CanPeek).
	keys, states := providerKeys(p)
	var rt http.RoundTripper = coldstart.Front(tr, cfg.timeouts.Connect, 30*time.Second)
	var plain *h1.Transport
	if s.proxy == nil && upconn.CanPeek {
		plain = &h1.Transport{Dial: tr.DialContext, MaxIdlePerHost: cfg.maxIdle, IdleTimeout: tr.IdleConnTimeout}
		rt = plain.Or(rt)
	}
	client := &http.Client{Transport: rt, CheckRedirect: refuseRedirect}
	return &upstream{p: keys[0].p, keys: keys, ring: health.NewRing(states), name: p.Name(), prefix: s.prefixOnly, transport: tr, plain: plain, client: client}
}

// keyOrder appends the keys of up to try at now, starting with the key
// at start (the request's health.Ring.Turn, see keyTurns): usable ones in
// rotation, resting ones only when none is usable.
func (up *upstream) keyOrder(dst []*providerKey, start int, now time.Time) []*providerKey {
	var idx [8]int
	for _, i := range up.ring.OrderFrom(idx[:0], start, now) {
		dst = append(dst, up.keys[i])
	}
	return dst
}

// attempt sends one request to t. The request is built afresh for every
// attempt, so each gets its own body reader and headers.
func (c *call) attempt(t target) (*http.Response, error) {
	// The header timeout of this attempt: the answer's first byte for a
	// stream, the whole answer for a non-streamed call. On success ctx
	// lives on with the body and ends with the call's (a stream's may
	// outlive it a moment: endpoint.Link).
	d := c.b.cfg.timeouts.Header
	if !c.env.stream {
		d = c.b.cfg.timeouts.NonStream
	}
	var ctx context.Context
	var cancel context.CancelCauseFunc
	var link *endpoint.Link
	if c.env.stream {
		ctx, link = endpoint.NewLink(c.ctx)
		cancel = link.Cancel
		ctx = upconn.Track(ctx) // the connection the answer comes on (httpOutput.relayBody)
	} else {
		ctx, cancel = context.WithCancelCause(c.ctx)
	}
	hreq, err := c.newUpstreamRequest(ctx, t)
	if err != nil {
		cancel(nil)
		var ae *APIError
		if !errors.As(err, &ae) { // a provider's own verdict (e.g. 400) stands
			c.b.log.Error("building the upstream request failed", "request_id", c.rec.RequestID, "provider", t.up.name, "error", err)
			ae = &APIError{Status: http.StatusInternalServerError, Type: ErrorTypeServer, Code: "request_build_failed",
				Message: "the bridge could not build the upstream request for " + t.up.name, Err: err}
		}
		return nil, ae
	}
	done := c.observeAttempt(hreq, t)
	timer := time.AfterFunc(d, func() { cancel(errHeaderTimeout) })
	resp, err := c.do(ctx, t, hreq)
	if !timer.Stop() && err != nil && errors.Is(context.Cause(ctx), errHeaderTimeout) {
		err = errHeaderTimeout
	}
	if err == nil && link != nil { // beneath the observers' wrappers: they end with the call
		resp.Body = link.Body(resp.Body)
	}
	if done != nil {
		done(resp, err)
	}
	if err != nil {
		cancel(nil)
	}
	return resp, err
}

// do sends hreq to t. A 401 that t's provider, a TokenRefresher, takes
// for a stale token of its own is tried once more, with a request built
// afresh (so a new token); otherwise, or when that cannot be built, the
// 401 stands.
func (c *call) do(ctx context.Context, t target, hreq *http.Request) (*http.Response, error) {
	resp, err := sendHeld(t.up.client, hreq)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	r, ok := t.prov().(TokenRefresher)
	if !ok || !r.Refused(hreq) {
		return resp, nil
	}
	again, berr := c.newUpstreamRequest(ctx, t)
	if berr != nil {
		return resp, nil
	}
	drain(resp)
	return sendHeld(t.up.client, again)
}

// sendHeld sends req with its body garbage once sent (reqbody.Hold): the
// response, a stream maybe, may be read for minutes. It asks the
// transport directly: http.Client.Do would only add a redirect loop that
// refuseRedirect ends at once, a *url.Error naming the URL (which
// redactedCause then strips), and about ten allocations per request. A
// base URL's user:password becomes Basic authorization, as Do would
// make it.
func sendHeld(client *http.Client, req *http.Request) (*http.Response, error) {
	if u := req.URL.User; u != nil && req.Header.Get("Authorization") == "" {
		pw, _ := u.Password()
		req.SetBasicAuth(u.Username(), pw)
	}
	release := reqbody.Hold(req)
	defer release()
	return client.Transport.RoundTrip(req)
}

// decodeError turns a non-2xx response into the upstream's *APIError.
func (c *call) decodeError(t target, resp *http.Response) error {
	derr := t.prov().DecodeError(resp)
	var ae *APIError
	if !errors.As(derr, &ae) {
		ae = &APIError{Status: resp.StatusCode, Type: ErrorTypeUpstream, Provider: t.up.name, Err: derr,
			Message: "upstream " + t.up.name + " returned HTTP " + strconv.Itoa(resp.StatusCode)}
	}
	if ae.Status == 0 {
		ae.Status = resp.StatusCode
	}
	return ae
}

// upstreamError names the target that failed without a response.
func (c *call) upstreamError(t target, err error) error {
	return c.b.asAPIError(c.parent, c.rec.RequestID, t.up.name, err)
}

// drain reads a little of a failed response so its connection can be
// reused, and closes it.
func drain(resp *http.Response) {
	if resp == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
}

// refuseRedirect is every upstream client's CheckRedirect: the 3xx
// response itself comes back to the attempt loop, which drains it and
// answers 502 (redirectError). Following it would re-send the provider's
// key headers (x-api-key, x-goog-api-key, configured ones: on a redirect
// to another host net/http drops only Authorization, WWW-Authenticate and
// cookies) to wherever Location points, and relay what an internal
// address answers to the client.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// providerKey is one key of a provider: its own provider value, sharing
// the upstream's transport, and its state (refused, cooling) across
// models.
type providerKey struct {
	p Provider
	*health.Key
}

// providerKeys returns the per-key providers of p (one for most) and their
// states, in the same order.
func providerKeys(p Provider) ([]*providerKey, []*health.Key) {
	ps := keyProviders(p)
	out, states := make([]*providerKey, len(ps)), make([]*health.Key, len(ps))
	for i, q := range ps {
		id := ""
		if s := apiKey(q); s != "" {
			id = KeyID(s)
		}
		states[i] = health.NewKey(p.Name(), id)
		out[i] = &providerKey{p: q, Key: states[i]}
	}
	return out, states
}

// keyProviders returns the per-key providers of p: a keyring's, else p.
func keyProviders(p Provider) []Provider {
	if kr, ok := p.(*keyring); ok {
		return kr.keys
	}
	return []Provider{p}
}

// apiKey returns the provider key p reports, "" when it reports none.
func apiKey(p Provider) string {
	if s, ok := p.(interface{ APIKey() string }); ok {
		return s.APIKey()
	}
	return ""
}

// secrets returns the provider keys p can report.
func secrets(p Provider) []string {
	var out []string
	for _, q := range keyProviders(p) {
		if s := apiKey(q); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// keyring is a built-in provider configured with several keys
// (ProviderConfig.APIKeys): one provider value per key behind one name.
// The Bridge gives them one transport and spreads requests over them; used
// directly, it behaves as its first key's provider.
type keyring struct {
	keys []Provider
	errs []error
}

// withKeys builds mk(cfg), or a keyring of one mk per key when cfg has
// several keys (APIKey, if set, first, then APIKeys).
func withKeys(cfg ProviderConfig, mk func(ProviderConfig) Provider) Provider {
	if len(cfg.APIKeys) == 0 {
		return mk(cfg)
	}
	list := cfg.APIKeys
	if cfg.APIKey != "" {
		list = append([]string{cfg.APIKey}, list...)
	}
	kr := &keyring{}
	seen := map[string]bool{}
	for i, k := range list {
		switch {
		case k == "":
			kr.errs = append(kr.errs, fmt.Errorf("key %d of the list is empty", i+1))
			continue
		case seen[k]:
			kr.errs = append(kr.errs, fmt.Errorf("key %d of the list appears twice", i+1))
			continue
		}
		seen[k] = true
		c := cfg
		c.APIKey, c.APIKeys = k, nil
		kr.keys = append(kr.keys, mk(c))
	}
	if len(kr.keys) == 0 {
		c := cfg
		c.APIKey, c.APIKeys = "", nil
		kr.keys = append(kr.keys, mk(c)) // for its name in the error
	}
	return kr
}

func (k *keyring) Name() string { return k.keys[0].Name() }

func (k *keyring) NewRequest(ctx context.Context, req *ChatRequest) (*http.Request, error) {
	return k.keys[0].NewRequest(ctx, req)
}

func (k *keyring) DecodeResponse(resp *http.Response) (*ChatResponse, error) {
	return k.keys[0].DecodeResponse(resp)
}

func (k *keyring) DecodeStream(resp *http.Response) iter.Seq2[*ChatChunk, error] {
	return k.keys[0].DecodeStream(resp)
}

func (k *keyring) DecodeError(resp *http.Response) error { return k.keys[0].DecodeError(resp) }

// Models lists the first key's models (all keys share the config).
func (k *keyring) Models() []string {
	if l, ok := k.keys[0].(ModelLister); ok {
		return l.Models()
	}
	return nil
}

// Validate reports the key list's problems and each key's provider's.
func (k *keyring) Validate() error {
	errs := make([]error, 0, len(k.errs)+1)
	for _, e := range k.errs {
		errs = append(errs, fmt.Errorf("provider %s: %w", k.Name(), e))
	}
	for _, p := range k.keys {
		if v, ok := p.(Validator); ok {
			if err := v.Validate(); err != nil {
				errs = append(errs, err)
				break // the same config: once is enough
			}
		}
	}
	return errors.Join(errs...)
}
