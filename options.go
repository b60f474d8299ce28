package llmbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Option configures a Bridge. Options are applied in order by New, which
// validates the result and reports every problem at once.
type Option func(*config) error

// Timeouts bounds each phase of an upstream call. Zero fields keep their
// defaults (DefaultTimeouts()).
type Timeouts struct {
	// Connect bounds dialing the upstream (and its TLS handshake).
	Connect time.Duration
	// Header bounds the wait from sending a streaming request to the
	// response headers (the first byte of the stream), per attempt.
	Header time.Duration
	// NonStream bounds the wait for a non-streamed answer's headers, per
	// attempt. Upstreams send those only when the whole answer is ready,
	// which takes minutes for reasoning models, so it is longer than
	// Header.
	NonStream time.Duration
	// StreamIdle is the longest silence allowed between upstream bytes
	// once the response has started.
	StreamIdle time.Duration
	// MaxDuration bounds a whole request, streaming or not: past it, 504
	// upstream_timeout (an error event once a stream began). The call's
	// context (a Router's, Admitter's, CheckRetry's, provider's) has it as
	// Deadline; past it, Err is Canceled and Cause names it.
	MaxDuration time.Duration
	// Write bounds each write to the client: a client that stops reading
	// for this long has its request ended (the upstream is cancelled and
	// the usage record says why). Renewed on every successful write.
	Write time.Duration
	// Body bounds reading the client's request body, from the moment its
	// key was checked (408 request_timeout past it): a client that
	// announces a body and never sends it holds nothing for longer. The
	// handler sets it as the connection's read deadline (replacing an
	// http.Server ReadTimeout for that request) and clears it once the
	// body is in.
	Body time.Duration
}

// DefaultTimeouts returns the timeouts of a Bridge built without
// WithTimeouts.
func DefaultTimeouts() Timeouts {
	return Timeouts{Connect: 5 * time.Second, Header: 60 * time.Second, NonStream: 10 * time.Minute,
		StreamIdle: 300 * time.Second, MaxDuration: 30 * time.Minute, Write: 30 * time.Second,
		Body: 30 * time.Second}
}

// RetryPolicy says when and how an upstream call is repeated. Attempts
// happen only before any byte has gone to the client. A retryable failure
// moves on to the router's next target at once; the last target is retried
// up to Max times with Backoff between tries. After the last attempt the
// client gets the upstream's own status and body.
type RetryPolicy struct {
	// Max is the number of extra attempts on the last (usually the only)
	// target; 0 disables retries.
	Max int
	// MinBackoff and MaxBackoff bound the exponential backoff (full jitter).
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest upstream Retry-After honoured; a longer
	// one ends retrying and the client gets the response at once.
	MaxRetryAfter time.Duration
	// CheckRetry decides which failures are retried; nil means
	// DefaultCheckRetry (connect errors, 429, 502, 503, 504, 529).
	CheckRetry CheckRetry
	// Backoff decides the wait before a retry; nil means DefaultBackoff
	// (Retry-After, else exponential with full jitter).
	Backoff Backoff
}

// DefaultRetryPolicy returns the retry policy of a Bridge built without
// WithRetry.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{Max: 2, MinBackoff: 200 * time.Millisecond, MaxBackoff: 2 * time.Second, MaxRetryAfter: 10 * time.Second,
		CheckRetry: DefaultCheckRetry, Backoff: DefaultBackoff}
}

func (p *RetryPolicy) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if p.CheckRetry == nil {
		return DefaultCheckRetry(ctx, resp, err)
	}
	return p.CheckRetry(ctx, resp, err)
}

func (p *RetryPolicy) backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if p.Backoff == nil {
		return DefaultBackoff(min, max, attempt, resp)
	}
	return p.Backoff(min, max, attempt, resp)
}

// Defaults of the remaining settings.
const (
	DefaultMaxBodyBytes = 32 << 20
	DefaultKeepAlive    = 15 * time.Second
	// DefaultMaxIdleConnsPerHost sizes each provider's idle pool; Go's
	// default of 2 churns connections under load.
	DefaultMaxIdleConnsPerHost = 256
)

type config struct {
	providers    []providerEntry
	accessKeys   []string
	timeouts     Timeouts
	retry        RetryPolicy
	maxBodyBytes int64
	keepAlive    time.Duration
	logger       *slog.Logger
	maxIdle      int
	observers    []Observer
	admitters    []Admitter
	router       Router
	tokens       *TokenCounter
	cors         map[string]bool // allowed origins; "*" allows any
	maxActive    int64           // WithMaxConcurrent; 0: unbounded
	cache        *responseCache  // WithCache; nil: no response cache
	routes       []Route         // WithRoute
	breaker      BreakerPolicy   // WithBreaker
	throttle     *AuthThrottle   // WithAuthThrottle
	throttleSet  bool
	hosts        func(host string) bool    // WithHosts; nil: any Host
	onCut        func(ctx context.Context) // WithClientCut
	checks       []HealthCheck             // WithHealthCheck
	modelRefresh time.Duration             // WithModelRefresh; 0: no live lists
	modelSeed    map[string][]string       // WithModelListsFrom: live lists to start with
}

func defaultConfig() config {
	return config{
		timeouts:     DefaultTimeouts(),
		retry:        DefaultRetryPolicy(),
		maxBodyBytes: DefaultMaxBodyBytes,
		keepAlive:    DefaultKeepAlive,
		maxIdle:      DefaultMaxIdleConnsPerHost,
		breaker:      DefaultBreakerPolicy(),
	}
}

// WithProvider adds an upstream. Its Name is the routing prefix and must be
// unique. Providers are consulted in the order added. Each provider gets its
// own transport and connection pool, shaped by opts (ViaProxy).
func WithProvider(p Provider, opts ...ProviderOption) Option {
	return func(c *config) error {
		if p == nil {
			return errors.New("WithProvider: nil provider")
		}
		e := providerEntry{p: p}
		var errs []error
		for _, o := range opts {
			if o == nil {
				continue
			}
			if err := o(&e.settings); err != nil {
				errs = append(errs, fmt.Errorf("provider %s: %w", p.Name(), err))
			}
		}
		c.providers = append(c.providers, e)
		return errors.Join(errs...)
	}
}

// ProviderOption configures how the Bridge reaches one provider.
type ProviderOption func(*providerSettings) error

type providerSettings struct {
	proxy      *url.URL
	prefixOnly bool
}

// PrefixOnly serves the provider's models under its prefix only
// ("ollama/llama3.2"): GET /v1/models lists them as usual, but a bare
// model name never resolves to this provider, so it can neither receive
// requests meant for another provider's model nor make a bare name
// ambiguous. It is for providers the operator did not name, such as the
// local model servers the server finds on well-known ports at start.
func PrefixOnly() ProviderOption {
	return func(s *providerSettings) error {
		s.prefixOnly = true
		return nil
	}
}

type providerEntry struct {
	p        Provider
	settings providerSettings
}

// ViaProxy sends the provider's connections through an outbound proxy:
// socks5:// (names resolved locally), socks5h:// (names resolved by the
// proxy), http:// or https:// (CONNECT for https upstreams), each with
// optional user:password@. An empty URL means a direct connection. The
// proxy's credentials never appear in errors or logs.
func ViaProxy(proxyURL string) ProviderOption {
	return func(s *providerSettings) error {
		if proxyURL == "" {
			s.proxy = nil
			return nil
		}
		u, err := url.Parse(proxyURL)
		if err != nil {
			return errors.New("ViaProxy: the proxy URL does not parse") // the text may hold a password
		}
		switch u.Scheme {
		case "socks5", "socks5h", "http", "https":
		default:
			return fmt.Errorf("ViaProxy: scheme %q is not socks5, socks5h, http or https", u.Scheme)
		}
		if u.Hostname() == "" {
			return errors.New("ViaProxy: the proxy URL has no host")
		}
		if u.Port() == "" {
			port := map[string]string{"socks5": "1080", "socks5h": "1080", "http": "80", "https": "443"}[u.Scheme]
			u.Host = net.JoinHostPort(u.Hostname(), port)
		}
		s.proxy = u
		return nil
	}
}

// WithAccessKeys sets the keys clients must present (Authorization: Bearer
// or x-api-key). Without any, the handler does not authenticate: put it
// behind your own authentication or serve it on loopback only.
func WithAccessKeys(keys ...string) Option {
	return func(c *config) error {
		for i, k := range keys {
			if k == "" {
				return fmt.Errorf("WithAccessKeys: key %d is empty", i)
			}
		}
		c.accessKeys = append(c.accessKeys, keys...)
		return nil
	}
}

// WithTimeouts sets the phase timeouts; zero fields keep their defaults.
func WithTimeouts(t Timeouts) Option {
	return func(c *config) error {
		if t.Connect < 0 || t.Header < 0 || t.NonStream < 0 || t.StreamIdle < 0 || t.MaxDuration < 0 || t.Write < 0 || t.Body < 0 {
			return errors.New("WithTimeouts: timeouts must not be negative")
		}
		set := func(dst *time.Duration, v time.Duration) {
			if v > 0 {
				*dst = v
			}
		}
		set(&c.timeouts.Connect, t.Connect)
		set(&c.timeouts.Header, t.Header)
		set(&c.timeouts.NonStream, t.NonStream)
		set(&c.timeouts.Write, t.Write)
		set(&c.timeouts.StreamIdle, t.StreamIdle)
		set(&c.timeouts.MaxDuration, t.MaxDuration)
		set(&c.timeouts.Body, t.Body)
		return nil
	}
}

// WithRetry sets the retry policy.
func WithRetry(p RetryPolicy) Option {
	return func(c *config) error {
		if p.Max < 0 || p.MinBackoff < 0 || p.MaxBackoff < p.MinBackoff || p.MaxRetryAfter < 0 {
			return fmt.Errorf("WithRetry: invalid policy (Max %d, MinBackoff %v, MaxBackoff %v, MaxRetryAfter %v): want Max >= 0, 0 <= MinBackoff <= MaxBackoff, MaxRetryAfter >= 0",
				p.Max, p.MinBackoff, p.MaxBackoff, p.MaxRetryAfter)
		}
		c.retry = p
		return nil
	}
}

// WithMaxBodyBytes limits request bodies; larger ones get 413.
func WithMaxBodyBytes(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("WithMaxBodyBytes: %d is not positive", n)
		}
		c.maxBodyBytes = n
		return nil
	}
}

// WithKeepAlive sets how long a stream to the client may stay silent before
// the bridge sends a ": keep-alive" comment. It does not extend the
// upstream's idle timeout.
func WithKeepAlive(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("WithKeepAlive: %v is not positive", d)
		}
		c.keepAlive = d
		return nil
	}
}

// WithLogger sets the logger for one line per request and for upstream
// problems. Nothing secret is ever logged. The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// WithMaxIdleConnsPerHost sizes each provider's pool of idle upstream
// connections (default DefaultMaxIdleConnsPerHost).
func WithMaxIdleConnsPerHost(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("WithMaxIdleConnsPerHost: %d is not positive", n)
		}
		c.maxIdle = n
		return nil
	}
}

// WithAdmitter adds an Admitter (see its contract). Admitters run in the
// order added, after the access-key check of WithAccessKeys.
func WithAdmitter(a Admitter) Option {
	return func(c *config) error {
		if a == nil {
			return errors.New("WithAdmitter: nil admitter")
		}
		c.admitters = append(c.admitters, a)
		return nil
	}
}

// WithRouter replaces the default model resolution ("provider/model", or a
// bare name by list or family) with r (see Router). GET /v1/models/{id}
// keeps using the default resolution.
func WithRouter(r Router) Option {
	return func(c *config) error {
		if r == nil {
			return errors.New("WithRouter: nil router")
		}
		c.router = r
		return nil
	}
}

// WithTokenCounter shares a TokenCounter (and the encodings it loaded)
// between Bridges, e.g. across configuration reloads. By default each
// Bridge has its own, loaded on first use.
func WithTokenCounter(t *TokenCounter) Option {
	return func(c *config) error {
		if t == nil {
			return errors.New("WithTokenCounter: nil counter")
		}
		c.tokens = t
		return nil
	}
}

// WithMaxConcurrent bounds the model calls the handler serves at once
// (streams included). Above n, a call is answered at once with 503
// server_overloaded and Retry-After: 1 in the client's format, before its
// body is read, and counted in Stats().Overloaded. 0 (the default) is
// unbounded. In-process calls are not bounded.
func WithMaxConcurrent(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("WithMaxConcurrent: %d is negative", n)
		}
		c.maxActive = int64(n)
		return nil
	}
}

// WithClientCut sets a function the handler calls, with the request's
// context, when it ends a request because its client stopped reading (the
// write timeout), before it returns and net/http closes the connection.
// The kernel otherwise keeps the unsent answer in the socket's send queue
// until the peer's retransmissions give up (FIN-WAIT-1: megabytes per
// connection, for minutes). An embedder that can reach the connection
// (http.Server.ConnContext) should make its close a reset there
// (net.TCPConn.SetLinger(0)), as nginx's reset_timedout_connection does.
// When the write that timed out is one net/http made for the handler (its
// buffer filling), net/http has closed the connection already; only a
// listener whose connections reset themselves when a write passes its
// deadline covers that case. The server does both.
func WithClientCut(f func(ctx context.Context)) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("WithClientCut: nil function")
		}
		c.onCut = f
		return nil
	}
}
