package mcpgw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
)

// Caller is who sent a request to /mcp, as Options.Authenticate tells.
type Caller struct {
	// KeyID is the caller's non-secret identity (an access key's
	// fingerprint, a virtual key's id); a session is bound to it.
	KeyID string
	// Allows reports whether the caller may use the named server; nil
	// allows every server.
	Allows func(server string) bool
}

func (c *Caller) allows(server string) bool { return c.Allows == nil || c.Allows(server) }

// ErrUnauthorized is what Options.Authenticate returns (or wraps) for a
// request without a valid key: the client gets 401.
var ErrUnauthorized = errors.New("missing or invalid access key")

// Options configure a Gateway.
type Options struct {
	// Authenticate tells who presents h's key (Authorization: Bearer):
	// the caller, or an error wrapping ErrUnauthorized (401); any other
	// error is a 500 whose cause is logged, never shown. It is called for
	// every HTTP request to /mcp, must be safe for concurrent use and must
	// not block. Required.
	Authenticate func(h http.Header) (Caller, error)
	// Open reports whether requests without an Authorization header go
	// through as an anonymous caller allowed every server: the bridge
	// without access keys, which serves loopback only (without Hosts, an
	// open Gateway serves only loopback Host headers:
	// llmbridge.LoopbackHost). It is asked on every request (a reload may
	// add or remove the access keys), must be safe for concurrent use and
	// must not block; nil: never open. A request that presents a key is
	// still authenticated.
	Open func() bool
	// Hosts, when set, is the Host headers served; others are refused 403
	// (DNS rebinding: a name that re-resolves to this machine).
	Hosts func(host string) bool
	// Observers are told of every finished tool call, on the call's
	// goroutine: they must not block (hand the call to a queue).
	Observers []func(Call)
	// Registerer gets the gateway's metrics; nil: not exported.
	Registerer prometheus.Registerer
	// ProxyURL is the proxy of servers with use_proxy (LLMBRIDGE_PROXY);
	// a server with use_proxy and no ProxyURL is an error of New.
	ProxyURL string
	// Logger gets the gateway's messages; nil discards them.
	Logger *slog.Logger
	// MaxBodyBytes bounds a client's request body (default 4 MiB; 413
	// above it).
	MaxBodyBytes int64
	// ListTimeout bounds how long a list waits for one server (default
	// 10s): a slow server is left out of the list, never holding it.
	ListTimeout time.Duration
	// Backoff is the wait before restarting a server after its attempt-th
	// failure in a row (default 250ms doubling to 30s).
	Backoff func(attempt int) time.Duration
	// TerminateDuration is how long a stdio server has to exit after its
	// stdin is closed before it is sent SIGTERM (default 5s).
	TerminateDuration time.Duration
	// KeepAlive pings upstream sessions this often, closing (and so
	// restarting) those that do not answer; 0: no pings.
	KeepAlive time.Duration
}

// DefaultBackoff is 250ms doubling with every failure, at most 30s.
func DefaultBackoff(attempt int) time.Duration {
	d := 250 * time.Millisecond
	for i := 1; i < attempt && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

// Gateway serves /mcp. Build it with New; it is safe for concurrent use.
// Close stops its upstream servers.
type Gateway struct {
	cfg      Config
	opts     Options
	log      *slog.Logger
	ups      []*upstream
	byName   map[string]*upstream
	server   *mcp.Server
	authed   http.Handler // the SDK's handler behind the bearer check
	sdk      http.Handler
	metrics  *metrics
	recent   recent
	stop     chan struct{}
	stopOnce sync.Once
	calls    context.Context // cancelled by Close: ends the calls in flight
	endCalls context.CancelFunc
	wg       sync.WaitGroup
	now      func() time.Time
}

// New returns a Gateway for cfg (resolved: Config.Resolve). It starts
// nothing: each server starts on first use.
func New(cfg Config, o Options) (*Gateway, error) {
	if o.Authenticate == nil {
		return nil, errors.New("mcpgw: Options.Authenticate is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.ListTimeout <= 0 {
		o.ListTimeout = 10 * time.Second
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 30 * time.Minute
	}
	g := &Gateway{cfg: cfg, opts: o, log: o.Logger, byName: map[string]*upstream{}, stop: make(chan struct{}), now: time.Now}
	g.calls, g.endCalls = context.WithCancel(context.Background())
	g.metrics = newMetrics(o.Registerer)
	for _, s := range cfg.Servers {
		if s.UseProxy && o.ProxyURL == "" {
			return nil, fmt.Errorf("MCP server %s: use_proxy is set but LLMBRIDGE_PROXY is empty", s.Name)
		}
		u := newUpstream(s, g)
		g.ups = append(g.ups, u)
		g.byName[s.Name] = u
	}
	g.server = mcp.NewServer(&mcp.Implementation{Name: "llmbridge", Title: "LLM Bridge MCP gateway", Version: "1"}, &mcp.ServerOptions{
		Capabilities: &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{ListChanged: true}, Prompts: &mcp.PromptCapabilities{}, Resources: &mcp.ResourceCapabilities{}},
		// Stateful Streamable HTTP: sessions are what binds a client to
		// its key. (2026-07-28 is sessionless.)
		SupportedProtocolVersions: ProtocolVersions,
	})
	g.server.AddReceivingMiddleware(g.route)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return g.server }, &mcp.StreamableHTTPOptions{
		SessionTimeout: cfg.SessionTimeout, MaxRequestBodyBytes: o.MaxBodyBytes, Logger: o.Logger,
		DisableLocalhostProtection: true, // Host and Origin are checked in ServeHTTP, also behind a proxy
	})
	g.sdk = h
	g.authed = auth.RequireBearerToken(g.verify, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(h)
	return g, nil
}

// ProtocolVersions are the MCP revisions /mcp negotiates, newest first.
var ProtocolVersions = []string{"2025-11-25", "2025-06-18", "2025-03-26"}

// callerKey holds the *Caller in a request's auth.TokenInfo.
const callerKey = "llmbridge.caller"

// verify is the SDK's bearer check: Authenticate, with the caller kept
// in the token info (UserID binds the session to the key).
func (g *Gateway) verify(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
	c, err := g.opts.Authenticate(r.Header)
	switch {
	case errors.Is(err, ErrUnauthorized):
		return nil, fmt.Errorf("%w: %v", auth.ErrInvalidToken, ErrUnauthorized)
	case err != nil:
		g.log.Error("MCP gateway: authentication failed", "error", err)
		return nil, errors.New("the bridge could not check the key")
	}
	return &auth.TokenInfo{UserID: "key:" + c.KeyID, Extra: map[string]any{callerKey: &c}}, nil
}

// ServeHTTP serves /mcp: the Host and Origin checks the MCP transport
// requires (DNS rebinding), the key, then the SDK's Streamable HTTP
// handler. A nil Gateway (no servers configured) answers 404.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g == nil {
		http.Error(w, "404 page not found: the bridge has no MCP servers (mcp: in LLMBRIDGE_CONFIG)", http.StatusNotFound)
		return
	}
	open := g.open()
	hosts := g.opts.Hosts
	if hosts == nil && open {
		hosts = llmbridge.LoopbackHost
	}
	if hosts != nil && !hosts(r.Host) {
		http.Error(w, "Forbidden: this Host is not served", http.StatusForbidden)
		return
	}
	if !g.originAllowed(r) {
		http.Error(w, "Forbidden: cross-origin request", http.StatusForbidden)
		return
	}
	if open && r.Header.Get("Authorization") == "" {
		g.sdk.ServeHTTP(w, r)
		return
	}
	g.authed.ServeHTTP(w, r)
}

// open reports whether the gateway serves anonymous callers now.
func (g *Gateway) open() bool { return g.opts.Open != nil && g.opts.Open() }

// originAllowed: a request without Origin (not a browser) passes; a
// browser's must be the bridge's own origin or one of AllowedOrigins.
func (g *Gateway) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	if slices.Contains(g.cfg.AllowedOrigins, o) {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// Close stops every upstream server and waits for their supervisors.
// Client sessions end with it. Closing a nil Gateway does nothing.
func (g *Gateway) Close() {
	if g == nil {
		return
	}
	g.stopOnce.Do(func() { close(g.stop) })
	g.endCalls() // an upstream session closes only once its calls return
	for _, u := range g.ups {
		u.close()
	}
	g.wg.Wait()
	for ss := range g.server.Sessions() {
		_ = ss.Close()
	}
}

// Status is the gateway's state for the admin API.
type Status struct {
	Servers []Health `json:"servers"`
	Recent  []Call   `json:"recent"` // the last calls, newest first
}

// Status returns the servers' health and the recent calls.
func (g *Gateway) Status() Status {
	s := Status{Servers: make([]Health, 0, len(g.ups)), Recent: g.recent.list()}
	for _, u := range g.ups {
		s.Servers = append(s.Servers, u.health())
	}
	return s
}

// AdminStatus is the admin API's source of /admin/api/mcp
// (admin.API.SetTools): Status as a value to encode; nil for a nil
// Gateway (the gateway is off).
func (g *Gateway) AdminStatus() func() any {
	if g == nil {
		return nil
	}
	return func() any { return g.Status() }
}

// allowed are the servers c may use, in configuration order.
func (g *Gateway) allowed(c *Caller) []*upstream {
	var out []*upstream
	for _, u := range g.ups {
		if c.allows(u.cfg.Name) {
			out = append(out, u)
		}
	}
	return out
}

// lookup returns the server named server if c may use it.
func (g *Gateway) lookup(c *Caller, server string) *upstream {
	if u := g.byName[server]; u != nil && c.allows(server) {
		return u
	}
	return nil
}

// placeholder is the tool announceTools adds and removes at once.
const placeholder = "llmbridge-tools-changed"

// announceTools tells every client session that the tool list changed
// (notifications/tools/list_changed): a server came up, came back or
// said its list changed. The SDK announces changes of its own tool
// registry, which the gateway does not otherwise use (route answers
// tools/list), so a placeholder added and removed is the announcement;
// clients never see it, and a call of it is an unknown tool.
func (g *Gateway) announceTools() {
	g.server.AddTool(&mcp.Tool{Name: placeholder, InputSchema: map[string]any{"type": "object"}}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return nil, errUnknown("tool", placeholder)
	})
	g.server.RemoveTools(placeholder)
}

// bound is ctx with timeout d, also ended by Close.
func (g *Gateway) bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, d)
	stop := context.AfterFunc(g.calls, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}
