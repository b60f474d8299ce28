package mcpgw

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"
)

// eventually retries f until it returns nil or 15s pass.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestProgressAndCancellationPassThrough(t *testing.T) {
	e := newEnv(t, nil)
	for _, server := range []string{"local", "team"} {
		t.Run(server, func(t *testing.T) {
			var mu sync.Mutex
			var tokens []any
			got := make(chan struct{}, 10)
			cs := e.connect(t, keyAll, &mcp.ClientOptions{ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
				mu.Lock()
				tokens = append(tokens, r.Params.ProgressToken)
				mu.Unlock()
				got <- struct{}{}
			}})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				p := &mcp.CallToolParams{Name: server + "__slow", Arguments: map[string]any{"steps": 3}}
				p.SetProgressToken("client-token-1")
				_, err := cs.CallTool(ctx, p)
				done <- err
			}()
			for range 3 {
				select {
				case <-got:
				case <-time.After(15 * time.Second):
					t.Fatal("progress notifications did not arrive")
				}
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled call returned %v", err)
			}
			mu.Lock()
			for _, tok := range tokens {
				if tok != "client-token-1" {
					t.Errorf("progress token %v, want the client's own", tok)
				}
			}
			mu.Unlock()
			// The upstream's handler saw the cancellation.
			eventually(t, "upstream cancellation", func() error {
				res, err := call(t, cs, server+"__cancelled", nil)
				if err != nil {
					return err
				}
				if resultText(res) == "0" {
					return errors.New("the upstream has not seen the cancellation")
				}
				return nil
			})
		})
	}
}

func TestCrashedStdioServerRestarted(t *testing.T) {
	e := newEnv(t, nil)
	cs := e.connect(t, keyAll, nil)
	if _, err := call(t, cs, "local__echo", map[string]any{"text": "before"}); err != nil {
		t.Fatal(err)
	}
	_, err := call(t, cs, "local__crash", nil)
	if err == nil || !strings.Contains(err.Error(), "MCP server local failed or is unavailable") {
		t.Fatalf("call to a crashing server: %v", err)
	}
	eventually(t, "restart", func() error {
		res, err := call(t, cs, "local__echo", map[string]any{"text": "after"})
		if err == nil && resultText(res) != "after" {
			err = fmt.Errorf("echo answered %q", resultText(res))
		}
		return err
	})
	for _, h := range e.g.Status().Servers {
		if h.Name == "local" && (h.Restarts < 1 || h.State != "up") {
			t.Errorf("health after a restart: %+v", h)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.calls[1].Tool != "crash" || e.calls[1].Status != StatusError {
		t.Errorf("the crashed call was counted as %+v", e.calls[1])
	}
}

// TestSupervisorStopsCleanly starts a stdio server, crashes it, lets the
// supervisor restart it, and closes the gateway: no goroutine of the
// gateway or the SDK is left, and the child process is gone.
func TestSupervisorStopsCleanly(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg := Config{Servers: []ServerConfig{{Name: "local", Command: []string{stdioBin}}}}
	g, err := New(cfg, Options{Authenticate: testAuth, Backoff: func(int) time.Duration { return 10 * time.Millisecond }, TerminateDuration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	tr := &http.Transport{}
	c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: srv.URL, HTTPClient: &http.Client{Transport: &bearerOver{keyAll, tr}}, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	call(t, cs, "local__crash", nil)
	eventually(t, "restart", func() error { _, err := call(t, cs, "local__echo", map[string]any{"text": "x"}); return err })
	cs.Close()
	g.Close()
	if h := g.Status().Servers[0]; h.State != "down" {
		t.Errorf("after Close: %+v", h)
	}
	srv.Close()
	tr.CloseIdleConnections()
}

type bearerOver struct {
	key string
	rt  http.RoundTripper
}

func (b *bearerOver) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return b.rt.RoundTrip(r)
}

// TestHangingUpstreamBlocksNobody: one server that never answers (not
// even the handshake) and one call hanging on another server; 200
// concurrent calls to the others all finish, and lists leave the stuck
// server out.
func TestHangingUpstreamBlocksNobody(t *testing.T) {
	release := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() {
		close(release)
		stuck.Close()
	})
	e := newEnv(t, func(c *Config, o *Options) {
		c.Servers = append(c.Servers, ServerConfig{Name: "stuck", URL: stuck.URL, ConnectTimeout: time.Minute})
		o.ListTimeout = 300 * time.Millisecond
	})
	cs := e.connect(t, keyAll, nil)
	hangCtx, stopHang := context.WithCancel(context.Background())
	defer stopHang()
	go cs.CallTool(hangCtx, &mcp.CallToolParams{Name: "team__hang"})
	go cs.CallTool(hangCtx, &mcp.CallToolParams{Name: "stuck__anything"})
	names := toolNames(t, cs)
	for _, n := range names {
		if strings.HasPrefix(n, "stuck__") {
			t.Errorf("a stuck server listed %s", n)
		}
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 200 {
		wg.Go(func() {
			name := []string{"team__echo", "local__echo"}[i%2]
			res, err := call(t, cs, name, map[string]any{"text": fmt.Sprint(i)})
			if err != nil || resultText(res) != fmt.Sprint(i) {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of 200 calls failed while one upstream hung", n)
	}
}

// TestClientsToldWhenAServerComesBack: a server that restarts announces
// notifications/tools/list_changed to the connected clients, so a list
// taken while it was down is taken again.
func TestClientsToldWhenAServerComesBack(t *testing.T) {
	e := newEnv(t, nil)
	var told atomic.Int64
	cs := e.connect(t, keyAll, &mcp.ClientOptions{ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { told.Add(1) }})
	toolNames(t, cs)
	time.Sleep(200 * time.Millisecond) // the announcements of the first start are debounced
	before := told.Load()
	call(t, cs, "local__crash", nil)
	eventually(t, "a list_changed notification after the restart", func() error {
		if told.Load() == before {
			return errors.New("none yet")
		}
		return nil
	})
	eventually(t, "the restarted server's tools", func() error {
		names := toolNames(t, cs)
		if slices.Contains(names, placeholder) {
			t.Fatalf("the placeholder was listed: %v", names)
		}
		if !slices.Contains(names, "local__echo") {
			return fmt.Errorf("tools %v", names)
		}
		return nil
	})
}
