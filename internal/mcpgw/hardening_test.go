package mcpgw

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// serveSDK serves s over Streamable HTTP on a test listener; the URL of
// its endpoint.
func serveSDK(t *testing.T, s *mcp.Server) string {
	t.Helper()
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL + "/mcp"
}

// resolved is sc resolved with environ, as Config.Resolve leaves it.
func resolved(t *testing.T, sc ServerConfig, environ map[string]string) ServerConfig {
	t.Helper()
	c := Config{Servers: []ServerConfig{sc}}
	if err := c.Resolve(environ); err != nil {
		t.Fatal(err)
	}
	return c.Servers[0]
}

// TestLongNamesRefused: a tool (or prompt) name past maxName is an
// unknown tool, answered without calling the server and recorded
// nowhere: not in the calls, the usage records, the recent calls, the
// metrics or the log (six calls with a 30 MiB name once took the bridge
// to 1 GB).
func TestLongNamesRefused(t *testing.T) {
	e := newEnv(t, nil)
	cs := e.connect(t, keyAll, nil)
	toolNames(t, cs)
	long := strings.Repeat("x", maxName)
	for _, name := range []string{"team__" + long, "team__echo" + long, "team__" + strings.Repeat("y", 1<<20)} {
		_, err := call(t, cs, name, map[string]any{"text": "x"})
		if err == nil || !strings.Contains(err.Error(), "unknown tool") {
			t.Errorf("a %d-byte tool name: %v, want unknown tool", len(name), err)
		}
		if err != nil && len(err.Error()) > 1000 {
			t.Errorf("the refusal quotes %d bytes", len(err.Error()))
		}
		if _, err := cs.GetPrompt(context.Background(), &mcp.GetPromptParams{Name: name}); err == nil || !strings.Contains(err.Error(), "unknown prompt") {
			t.Errorf("a %d-byte prompt name: %v, want unknown prompt", len(name), err)
		}
	}
	e.mu.Lock()
	calls := e.calls
	e.mu.Unlock()
	if len(calls) != 0 {
		t.Errorf("refused calls were recorded: %d calls", len(calls))
	}
	if r := e.g.Status().Recent; len(r) != 0 {
		t.Errorf("refused calls in the recent calls: %d", len(r))
	}
	if strings.Contains(e.logs.String(), long) {
		t.Error("a long name reached the log")
	}
	// An ordinary name still works.
	res, err := call(t, cs, "team__echo", map[string]any{"text": "ok"})
	if err != nil || resultText(res) != "ok" {
		t.Fatalf("an ordinary call: %v %+v", err, res)
	}
}

// TestUnknownToolRecordedAsOther: a name the server never listed is the
// client's, and is recorded as "other" everywhere (the call, the usage
// record, the recent calls, the metric label); a listed tool under its
// name, even when the client calls it without listing first.
func TestUnknownToolRecordedAsOther(t *testing.T) {
	e := newEnv(t, nil)
	cs := e.connect(t, keyAll, nil)
	made := "made-up-" + strings.Repeat("z", 200)
	if _, err := call(t, cs, "team__"+made, nil); err == nil {
		t.Fatal("a made-up tool answered")
	}
	if _, err := call(t, cs, "team__echo", map[string]any{"text": "x"}); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	calls := append([]Call(nil), e.calls...)
	e.mu.Unlock()
	if len(calls) != 2 {
		t.Fatalf("calls: %+v", calls)
	}
	if calls[0].Tool != "other" || calls[0].Status != StatusError {
		t.Errorf("the made-up tool recorded as %q (%s), want other", calls[0].Tool, calls[0].Status)
	}
	rec := calls[0].UsageRecord()
	if rec.Model != "team__other" || rec.UpstreamModel != "other" {
		t.Errorf("usage record model %q upstream %q, want team__other, other", rec.Model, rec.UpstreamModel)
	}
	if calls[1].Tool != "echo" || calls[1].UsageRecord().Model != "team__echo" {
		t.Errorf("a listed tool called without listing: recorded as %q", calls[1].Tool)
	}
	// (Error is what the client was told: the server's message, bounded.)
	if strings.Contains(e.logs.String(), made) {
		t.Error("the client's made-up name was logged")
	}
}

// TestOpenDecidedPerRequest: Options.Open is asked on every request: an
// anonymous session stops working the moment the gateway closes (a
// reload added access keys), and new anonymous requests get 401.
func TestOpenDecidedPerRequest(t *testing.T) {
	var open atomic.Bool
	open.Store(true)
	e := newEnv(t, func(_ *Config, o *Options) { o.Open = open.Load })
	cs := e.connect(t, "", nil)
	if names := toolNames(t, cs); len(names) == 0 {
		t.Fatal("an open gateway lists no tools to an anonymous caller")
	}
	open.Store(false)
	if resp := post(t, e.srv.URL, "", "", strings.NewReader(listBody), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous request after closing: %d, want 401", resp.StatusCode)
	}
	if resp := post(t, e.srv.URL, "", cs.ID(), strings.NewReader(listBody), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the anonymous session after closing: %d, want 401", resp.StatusCode)
	}
	if _, err := call(t, cs, "team__echo", map[string]any{"text": "x"}); err == nil {
		t.Error("the anonymous session still calls tools after closing")
	}
	// A key still works.
	if names := toolNames(t, e.connect(t, keyAll, nil)); len(names) == 0 {
		t.Error("a key lists no tools")
	}
	// Open again: an open gateway without Hosts serves loopback only.
	open.Store(true)
	if resp := post(t, e.srv.URL, "", "", strings.NewReader(listBody), func(r *http.Request) { r.Host = "evil.example" }); resp.StatusCode != http.StatusForbidden {
		t.Errorf("open gateway, a foreign Host: %d, want 403", resp.StatusCode)
	}
}

// deadURL is an http URL nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// TestURLSecretsNotLogged: a token in an HTTP server's URL (a ${VAR} in
// its path, a query parameter) reaches neither the log nor the health
// report when the server is down.
func TestURLSecretsNotLogged(t *testing.T) {
	const pathTok, queryTok, hdrTok = "path-secret-4b1d9e", "query-secret-8c2f7a", "hdr-secret-93e1c5"
	dead := resolved(t, ServerConfig{Name: "dead", URL: deadURL(t) + "/${PATH_TOKEN}/mcp?token=" + queryTok + "&sig=${SIG}",
		Headers: map[string]string{"X-Team": "team=${HDR}"}}, map[string]string{"PATH_TOKEN": pathTok, "SIG": "sig-secret-5a7e", "HDR": hdrTok})
	e := newEnv(t, func(c *Config, _ *Options) { c.Servers = append(c.Servers, dead) })
	cs := e.connect(t, keyAll, nil)
	if _, err := call(t, cs, "dead__echo", map[string]any{"text": "x"}); err == nil {
		t.Fatal("a call to a dead server succeeded")
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(e.logs.String(), "MCP server down; retrying") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the server was never logged down:\n%s", e.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	toolNames(t, cs) // "listing tools failed" is logged too
	all := e.logs.String() + fmt.Sprint(e.g.Status())
	for _, secret := range []string{pathTok, queryTok, "sig-secret-5a7e", hdrTok} {
		if strings.Contains(all, secret) {
			t.Errorf("%s reached the log or the health report:\n%s", secret, all)
		}
	}
	if !strings.Contains(e.logs.String(), "connection refused") {
		t.Errorf("the log lost the cause:\n%s", e.logs)
	}
}

// TestToolErrorRedacted: a tool result with isError that quotes the
// server's credential reaches the client without it.
func TestToolErrorRedacted(t *testing.T) {
	const tok = "leaky-upstream-token-2d8e4f"
	s := mcp.NewServer(&mcp.Implementation{Name: "leaky", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "leak", InputSchema: map[string]any{"type": "object"}}, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "upstream said no to " + req.Extra.Header.Get("Authorization")}}}, nil
	})
	leaky := resolved(t, ServerConfig{Name: "leaky", URL: serveSDK(t, s), Headers: map[string]string{"Authorization": "Bearer ${LEAKY}"}}, map[string]string{"LEAKY": tok})
	e := newEnv(t, func(c *Config, _ *Options) { c.Servers = append(c.Servers, leaky) })
	cs := e.connect(t, keyAll, nil)
	res, err := call(t, cs, "leaky__leak", nil)
	if err != nil || !res.IsError {
		t.Fatalf("leak: %v %+v", err, res)
	}
	if txt := resultText(res); strings.Contains(txt, tok) || !strings.Contains(txt, "[redacted]") {
		t.Errorf("the tool's error reached the client as %q", txt)
	}
}

// TestToolListBounded: one server adds at most maxListed tools.
func TestToolListBounded(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "big", Version: "1"}, nil)
	for i := range maxListed + 5 {
		s.AddTool(&mcp.Tool{Name: fmt.Sprintf("t%04d", i), InputSchema: map[string]any{"type": "object"}}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{}, nil
		})
	}
	big := ServerConfig{Name: "big", URL: serveSDK(t, s)}
	e := newEnv(t, func(c *Config, _ *Options) { c.Servers = []ServerConfig{big} })
	cs := e.connect(t, keyAll, nil)
	if n := len(toolNames(t, cs)); n != maxListed {
		t.Errorf("listed %d tools, want %d", n, maxListed)
	}
	for _, h := range e.g.Status().Servers {
		if len(h.Tools) != maxListed {
			t.Errorf("health of %s: %d tools, want %d", h.Name, len(h.Tools), maxListed)
		}
	}
}
