package mcpgw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// upstream is one configured server and its supervisor. The supervisor
// (run) starts on first use and owns the connection: it connects, waits
// for the session to end, and — unless the Gateway is closing — waits a
// backoff and connects again. Callers never connect themselves; they
// take the current session or the reason there is none.
type upstream struct {
	cfg      ServerConfig
	log      *slog.Logger
	connect  func(ctx context.Context) (*mcp.ClientSession, error)
	announce func() // the server came up or its tools changed: tell the clients
	backoff  func(attempt int) time.Duration
	redact   *redactor
	stop     <-chan struct{}
	wg       *sync.WaitGroup

	start    sync.Once
	progress progressTable

	mu       sync.Mutex
	cs       *mcp.ClientSession // nil while down
	err      error              // why it is down; nil while starting
	changed  chan struct{}      // closed and replaced when cs or err change
	started  bool
	restarts int
	since    time.Time // of the current state
	tools    []*mcp.Tool
	toolsOf  *mcp.ClientSession // the session tools were listed from
}

// errClosed is every caller's answer once the Gateway is closing.
var errClosed = errors.New("the gateway is shutting down")

func newUpstream(cfg ServerConfig, g *Gateway) *upstream {
	u := &upstream{cfg: cfg, log: g.log.With("mcp_server", cfg.Name), backoff: g.opts.Backoff, redact: newRedactor(cfg.secrets()),
		stop: g.stop, wg: &g.wg, changed: make(chan struct{}), since: g.now()}
	u.connect = func(ctx context.Context) (*mcp.ClientSession, error) { return g.dial(ctx, u) }
	u.announce = g.announceTools
	return u
}

// session returns the live session, starting the supervisor on first
// use and waiting (up to ctx) while a connection attempt is under way.
// While the server is down it fails at once with the reason.
func (u *upstream) session(ctx context.Context) (*mcp.ClientSession, error) {
	u.start.Do(func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		select {
		case <-u.stop:
			u.err = errClosed
			return
		default:
		}
		u.started = true
		u.wg.Add(1)
		go u.run()
	})
	for {
		u.mu.Lock()
		cs, err, ch := u.cs, u.err, u.changed
		u.mu.Unlock()
		switch {
		case cs != nil:
			return cs, nil
		case err != nil:
			return nil, err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("MCP server %s is still starting: %w", u.cfg.Name, ctx.Err())
		}
	}
}

// set changes the state and wakes the waiters.
func (u *upstream) set(cs *mcp.ClientSession, err error, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.cs, u.err, u.since = cs, err, now
	close(u.changed)
	u.changed = make(chan struct{})
}

// run is the supervisor: connect, serve until the session ends, back
// off, again — until the Gateway stops.
func (u *upstream) run() {
	defer u.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the supervisor's attempts end when the Gateway stops
		select {
		case <-u.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for attempt := 1; ; attempt++ {
		up := time.Now()
		cs, err := u.connect(ctx)
		if err == nil {
			u.log.Info("MCP server connected", "attempt", attempt)
			u.set(cs, nil, time.Now())
			if u.stopped() { // Close may have looked for a session before this one was set
				_ = cs.Close()
			} else {
				u.announce()
			}
			werr := cs.Wait()
			// A session the server ended still holds what only Close
			// releases (its subscriptions/listen call, keepalive).
			_ = cs.Close()
			if u.stopped() {
				u.set(nil, errClosed, time.Now())
				return
			}
			if time.Since(up) > u.backoff(attempt)*4 {
				attempt = 1 // it ran a good while: start the backoff over
			}
			err = fmt.Errorf("the connection ended: %v", werr)
			u.mu.Lock()
			u.restarts++
			u.mu.Unlock()
		}
		if u.stopped() {
			u.set(nil, errClosed, time.Now())
			return
		}
		d := u.backoff(attempt)
		u.log.Warn("MCP server down; retrying", "error", u.redact.err(err), "retry_in", d)
		u.set(nil, fmt.Errorf("MCP server %s is unavailable (retrying in %s)", u.cfg.Name, d.Round(time.Millisecond)), time.Now())
		t := time.NewTimer(d)
		select {
		case <-u.stop:
			t.Stop()
			u.set(nil, errClosed, time.Now())
			return
		case <-t.C:
		}
		u.set(nil, nil, time.Now()) // starting: callers wait for this attempt
	}
}

func (u *upstream) stopped() bool {
	select {
	case <-u.stop:
		return true
	default:
		return false
	}
}

// close ends the live session (the supervisor then sees the Gateway
// stopping and returns). A stdio server's process is stopped by the
// SDK's CommandTransport: stdin closed, then SIGTERM, then SIGKILL.
func (u *upstream) close() {
	u.mu.Lock()
	cs := u.cs
	u.mu.Unlock()
	if cs != nil {
		_ = cs.Close()
	}
}

// listTools returns the server's tools, listed once per session (and
// again after the server says its list changed).
func (u *upstream) listTools(ctx context.Context) ([]*mcp.Tool, error) {
	cs, err := u.session(ctx)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	if u.toolsOf == cs {
		t := u.tools
		u.mu.Unlock()
		return t, nil
	}
	u.mu.Unlock()
	var tools []*mcp.Tool
	for t, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return nil, err
		}
		if tools = append(tools, t); len(tools) >= maxListed {
			break
		}
	}
	u.mu.Lock()
	u.tools, u.toolsOf = tools, cs
	u.mu.Unlock()
	return tools, nil
}

// forgetTools drops the cached tool list and tells the clients
// (notifications/tools/list_changed).
func (u *upstream) forgetTools() {
	u.mu.Lock()
	u.toolsOf = nil
	u.mu.Unlock()
	u.announce()
}

// maxListed bounds what one server may add to a list.
const maxListed = 1000

// Health is one server's state for the admin API.
type Health struct {
	Name     string    `json:"name"`
	Kind     string    `json:"kind"`  // "stdio" or "http"
	State    string    `json:"state"` // "idle" (not started yet), "starting", "up", "down"
	Error    string    `json:"error,omitempty"`
	Since    time.Time `json:"since"`
	Restarts int       `json:"restarts"`
	Tools    []string  `json:"tools"` // the tools last listed, prefixed
}

func (u *upstream) health() Health {
	u.mu.Lock()
	defer u.mu.Unlock()
	h := Health{Name: u.cfg.Name, Kind: "http", Since: u.since, Restarts: u.restarts, Tools: []string{}}
	if len(u.cfg.Command) > 0 {
		h.Kind = "stdio"
	}
	switch {
	case !u.started:
		h.State = "idle"
	case u.cs != nil:
		h.State = "up"
	case u.err != nil:
		h.State, h.Error = "down", u.redact.String(u.err.Error())
	default:
		h.State = "starting"
	}
	if u.toolsOf != nil {
		for _, t := range u.tools {
			h.Tools = append(h.Tools, joinName(u.cfg.Name, t.Name))
		}
	}
	return h
}

// progressTable maps the progress tokens the bridge sends upstream to
// the client session and token they stand for. Upstream tokens are the
// bridge's own ("lb-<n>"), so clients cannot collide or reach each
// other's progress.
type progressTable struct {
	n  atomic.Int64
	mu sync.Mutex
	m  map[string]progressTarget
}

type progressTarget struct {
	ctx   context.Context // the call's: it routes a notification to the call's stream
	ss    *mcp.ServerSession
	token any
}

func (p *progressTable) add(ctx context.Context, ss *mcp.ServerSession, token any) (string, func()) {
	id := fmt.Sprintf("lb-%d", p.n.Add(1))
	p.mu.Lock()
	if p.m == nil {
		p.m = map[string]progressTarget{}
	}
	p.m[id] = progressTarget{ctx, ss, token}
	p.mu.Unlock()
	return id, func() {
		p.mu.Lock()
		delete(p.m, id)
		p.mu.Unlock()
	}
}

func (p *progressTable) lookup(token any) (progressTarget, bool) {
	id, ok := token.(string)
	if !ok {
		return progressTarget{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.m[id]
	return t, ok
}

// knows reports whether the server listed tool (so it may be a metric
// label).
func (u *upstream) knows(tool string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, t := range u.tools {
		if t.Name == tool {
			return true
		}
	}
	return false
}
