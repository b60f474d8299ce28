package llmbridge

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/llmbridge/llmbridge/internal/authguard"
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/secret"
)

// Admitter decides whether a request may proceed: who is calling, what
// they may call and whether their limits and budget allow it now.
//
// Admit is called once per request, after the client's body has been read
// and before any upstream work (routing, cache, provider). It returns a
// Ticket to settle once the request has finished, or an error that ends the
// request: an *APIError keeps its status, type, code, message and
// RetryAfter (401 for an unknown key, 403 for a model the key may not use,
// 429 for a limit); any other error becomes a 500 whose cause is logged,
// never shown. The error reaches the client in the client's own format.
// Admit may set r.KeyID to the caller's non-secret identity. It must be
// safe for concurrent use and should not block for long: it runs on the
// request path.
//
// Admitters added with WithAdmitter run in order, after the access-key
// check of WithAccessKeys; the first refusal ends the request. Every
// ticket returned is settled, also when a later admitter refuses.
type Admitter interface {
	Admit(ctx context.Context, r *Request) (Ticket, error)
}

// Authenticator is implemented by Admitters that can tell who is calling
// from the request's headers alone. The Bridge calls Authenticate before
// it reads the client's body or takes a place among WithMaxConcurrent's
// calls, so that a client without a valid key costs no memory and no
// slot: r carries ID, Format and Header only (Model is empty, Stream
// false, PromptTokensEstimate 0). It returns nil for a caller Admit may
// go on to judge, or the refusal — an *APIError, normally 401
// invalid_api_key — which ends the request at once; the failure counts
// against the client's source address (WithAuthFailureThrottle). It must
// not look at the model or reserve anything: Admit still runs, after the
// body is read, and decides everything else. It is not called for
// in-process requests. It must be safe for concurrent use and must not
// block.
type Authenticator interface {
	Authenticate(ctx context.Context, r *Request) error
}

// Ticket is an admitted request's reservation. Settle is called exactly
// once with the request's finished UsageRecord (real token usage, status,
// error), after the response is complete, on the request's goroutine and
// before the observers' End: release what Admit reserved and charge what
// was used. Settle must not block (hand slow work to a queue). A nil
// Ticket is allowed and means there is nothing to settle.
type Ticket interface {
	Settle(rec UsageRecord)
}

// HeaderTicket is implemented by tickets that add headers to the response
// (x-ratelimit-remaining-requests, …). Header is called once, after all
// admitters ran and before anything is written, also when a later admitter
// refused the request; an Admitter that refuses may return such a ticket
// together with its error so the refusal carries the headers too. It is
// not called for in-process requests. The header returned is the
// caller's: the bridge may hand it to the response as it is, so return
// a fresh one each time.
type HeaderTicket interface {
	Ticket
	Header() http.Header
}

// HeaderAdder is a HeaderTicket that can add its headers to the
// response's header itself, which the bridge then calls instead of
// Header (at the same moment, with the same guarantees): no header map of
// the ticket's own per request. AddHeader sets its entries in h, whose
// other entries it leaves alone; a ticket after it may set the same names
// again, and then its values are the ones sent.
type HeaderAdder interface {
	HeaderTicket
	AddHeader(h http.Header)
}

// TicketFunc adapts a function to a Ticket.
type TicketFunc func(rec UsageRecord)

// Settle calls f(rec).
func (f TicketFunc) Settle(rec UsageRecord) { f(rec) }

// AdmitterFunc adapts a function to an Admitter.
type AdmitterFunc func(ctx context.Context, r *Request) (Ticket, error)

// Admit calls f(ctx, r).
func (f AdmitterFunc) Admit(ctx context.Context, r *Request) (Ticket, error) { return f(ctx, r) }

// accessKeys is the admitter of WithAccessKeys: it compares the client's
// key against every access key in constant time (comparing SHA-256
// digests, so length leaks nothing either) and names the caller by the
// key's fingerprint. In-process calls are the program itself and pass.
type accessKeys struct {
	sums [][sha256.Size]byte
	ids  []string // KeyID of each, same order
}

func (a *accessKeys) Admit(_ context.Context, r *Request) (Ticket, error) {
	if r.InProcess() {
		return nil, nil
	}
	id, ok := a.match(r.Credential())
	if !ok {
		return nil, errUnauthorized()
	}
	r.KeyID = id
	return nil, nil
}

// match returns the fingerprint of the access key equal to key: every
// key is compared, in constant time (secret.Set.Index).
func (a *accessKeys) match(key string) (string, bool) {
	i := secret.Set(a.sums).Index(key)
	if i < 0 {
		return "", false
	}
	return a.ids[i], true
}

func errUnauthorized() *APIError {
	return &APIError{Status: http.StatusUnauthorized, Type: ErrorTypeInvalidRequest, Code: "invalid_api_key",
		Message: "Missing or invalid access key: send Authorization: Bearer <key> or x-api-key: <key>."}
}

// admit runs the admitters in order and keeps their tickets for settle.
func (c *call) admit() *APIError {
	for _, a := range c.b.admitters {
		t, err := a.Admit(c.ctx, &c.req)
		c.rec.KeyID = c.req.KeyID
		if t != nil {
			c.tickets.add(t)
		}
		if err != nil {
			e := c.ownError("admission", err)
			if e.Status == http.StatusUnauthorized {
				// Nobody known sent it: keep nothing the client chose.
				c.rec.Unauthenticated, c.rec.Model = true, ""
			}
			return e
		}
	}
	return nil
}

// tickets are a call's admission tickets, the first in place: a request
// has one admitter, as a rule, and a slice of its own would be an
// allocation on every request with a key.
type tickets struct {
	first [1]Ticket
	list  []Ticket
}

func (ts *tickets) add(t Ticket) {
	if ts.list == nil {
		ts.list = ts.first[:0]
	}
	ts.list = append(ts.list, t)
}

// addTicketHeaders adds the headers of the tickets that have some to
// dst, in the tickets' order (a later one's values win).
func (c *call) addTicketHeaders(dst http.Header) {
	for _, t := range c.tickets.list {
		switch ht := t.(type) {
		case HeaderAdder:
			ht.AddHeader(dst)
		case HeaderTicket:
			for k, v := range ht.Header() {
				dst[k] = v
			}
		}
	}
}

// settle hands the finished record to every ticket.
func (c *call) settle() {
	for _, t := range c.tickets.list {
		c.safely(func() { t.Settle(c.rec) })
	}
}

// AuthThrottle slows down clients that keep presenting wrong keys: past a
// free allowance of failed authentications (401s), a source is answered
// 429 auth_throttled with Retry-After, without its key being looked at,
// for a backoff that doubles with every further failure. A source is the
// client's IP address (an IPv6 /64), or, behind TrustedProxies, the
// address they forwarded. One AuthThrottle may be shared by several
// Bridges (a reload) and by other handlers that check keys (an admin
// API): a wrong key anywhere counts everywhere. It is safe for concurrent
// use. Counts are per process, not shared between replicas.
type AuthThrottle struct {
	g      *authguard.Guard
	source func(*http.Request) netip.Prefix
}

// AuthThrottleOptions configure an AuthThrottle. Zero fields take the
// defaults.
type AuthThrottleOptions struct {
	// Free is how many failures a source may make before it is slowed
	// down (default 10).
	Free int
	// Window is how long a failure is remembered after the source's last
	// one (default 10 minutes).
	Window time.Duration
	// MaxBackoff bounds the backoff, which starts at one second (default
	// 5 minutes).
	MaxBackoff time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client. Without them the peer address is the source, so every
	// client behind one proxy shares one allowance.
	TrustedProxies []netip.Prefix
}

// NewAuthThrottle returns an AuthThrottle with o's settings.
func NewAuthThrottle(o AuthThrottleOptions) *AuthThrottle {
	return &AuthThrottle{
		g:      authguard.New(authguard.Options{Free: o.Free, Window: o.Window, Max: o.MaxBackoff}),
		source: authguard.ForwardedSource(o.TrustedProxies),
	}
}

// Wait reports how long r's source must wait before a key it presents is
// looked at again; 0 means go ahead. A nil AuthThrottle never waits.
func (t *AuthThrottle) Wait(r *http.Request) time.Duration {
	if t == nil || !t.g.Waiting() {
		return 0 // no source waits: the request's source need not be read
	}
	return t.g.Wait(t.source(r))
}

// Fail counts a failed authentication of r's source.
func (t *AuthThrottle) Fail(r *http.Request) {
	if t != nil {
		t.g.Fail(t.source(r))
	}
}

// ThrottledError is the 429 answered to a source that must wait d.
func ThrottledError(d time.Duration) *APIError {
	secs := int64((d + time.Second - 1) / time.Second)
	return &APIError{Status: http.StatusTooManyRequests, Type: ErrorTypeInvalidRequest, Code: "auth_throttled", RetryAfter: strconv.FormatInt(max(secs, 1), 10),
		Message: fmt.Sprintf("Too many requests with a wrong key from this address; retry in %ds.", max(secs, 1))}
}

// authenticate is the pre-body check of a request from the HTTP handler:
// a throttled source is refused at once; otherwise every Authenticator
// looks at the headers. It returns the refusal, counting a 401 against
// the source.
func (b *Bridge) authenticate(r *http.Request, req *Request) *APIError {
	if d := b.throttle.Wait(r); d > 0 {
		return ThrottledError(d)
	}
	for _, a := range b.authenticators {
		if err := a.Authenticate(r.Context(), req); err != nil {
			var ae *APIError
			if !errors.As(err, &ae) {
				b.log.Error("authentication failed", "request_id", req.ID, "error", err)
				return errorf(http.StatusInternalServerError, ErrorTypeServer, "admission_failed", "the bridge's admission stage failed (request id %s)", req.ID)
			}
			if ae.Status == http.StatusUnauthorized {
				b.throttle.Fail(r)
			}
			return ae
		}
	}
	return nil
}

// Authenticate implements Authenticator: the access-key check needs
// nothing but the headers.
func (a *accessKeys) Authenticate(ctx context.Context, r *Request) error {
	_, err := a.Admit(ctx, r)
	return err
}

// Request is what the pipeline's pluggable stages (Admitter, Router) see of
// one request, whatever format the client spoke. It is created by the
// Bridge and valid only during the call it is passed to; stages must not
// keep it. Only an Admitter writes to it, and only KeyID.
type Request struct {
	// ID is the request id (the X-Request-Id of the response).
	ID string
	// Format is the API the client spoke: "chat" (Chat Completions),
	// "anthropic" (Messages), "anthropic_count_tokens", "responses"
	// (OpenAI's Responses API), "embeddings", or "models" for the model
	// list. Chat returns an error for "embeddings", which has no chat form.
	Format string
	// Model is the model the client asked for, before routing; empty when
	// the body did not name one (such a request is refused with 400 after
	// admission).
	Model string
	// Stream reports whether the client asked for a stream.
	Stream bool
	// KeyID is the non-secret identity of the caller. An Admitter that
	// recognises the caller sets it; the usage record, the log and the
	// observers carry it. Empty for anonymous callers.
	KeyID string
	// Header is the client's HTTP request header; nil for in-process
	// calls. It carries the caller's credential (see Credential): never
	// log it.
	Header http.Header

	c *call
}

// Credential returns the key the client presented (Authorization: Bearer,
// else x-api-key, trimmed), or "" — in-process calls present none. It is
// a secret: compare it, never log or store it.
func (r *Request) Credential() string { return secret.Credential(r.Header) }

// InProcess reports whether the request came through ChatCompletion or
// ChatCompletionStream rather than the HTTP handler.
func (r *Request) InProcess() bool { return r.Header == nil }

// PromptTokensEstimate returns a quick estimate of the prompt's tokens for
// reserving against limits before the call, without decoding or
// tokenizing: the text of every string in the client's body (messages,
// roles, tool definitions) at 4 bytes a token; in-process, the messages'
// text; 0 for a body the parse refused. The chat, Messages and Responses
// parses count it as they check the body; another body is read once onto
// a tape (100 kB: 0.07 ms). Ticket.Settle then gets the real usage.
func (r *Request) PromptTokensEstimate() int {
	n := 0
	switch {
	case r.c == nil:
	case r.c.env.bad != nil: // refused once admitted: nothing goes upstream
	case r.c.env.textRead:
		n = r.c.env.text
	case r.c.body != nil:
		var ok bool
		if n, ok = openai.TextBytes(r.c.body); !ok { // a body too large for a tape, or not JSON
			n = openai.WalkTextBytes(openai.ParseView(r.c.body))
		}
	case r.c.chat != nil:
		for i := range r.c.chat.Messages {
			n += len(r.c.chat.Messages[i].Content.String()) + 16
		}
	}
	return (n + 3) / 4
}

// Chat returns the request as a Chat Completions request, decoding the
// client's body on first use (the pass-through path never needs to). The
// result is shared: do not modify it. It fails with a 400 *APIError when
// the body is not a valid request.
func (r *Request) Chat() (*ChatRequest, error) {
	if r.c == nil {
		return nil, errorf(http.StatusBadRequest, ErrorTypeInvalidRequest, "invalid_request", "the %s endpoint has no chat request", r.Format)
	}
	req, aerr := r.c.request()
	if aerr != nil {
		return nil, aerr
	}
	return req, nil
}

// WithAuthThrottle sets the throttle of failed authentications (see
// AuthThrottle). Without this option a Bridge has its own with the
// default settings; share one between Bridges that replace each other and
// the other handlers that check keys. A nil throttle turns throttling off
// (an application that limits sources in front of the Bridge).
func WithAuthThrottle(t *AuthThrottle) Option {
	return func(c *config) error {
		c.throttle, c.throttleSet = t, true
		return nil
	}
}
