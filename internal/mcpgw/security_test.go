package mcpgw

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

const listBody = `{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}`

// post sends a raw JSON-RPC POST to the gateway.
func post(t *testing.T, url, key, session string, body io.Reader, edit func(*http.Request)) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestSessionBelongsToItsKey(t *testing.T) {
	e := newEnv(t, nil)
	cs := e.connect(t, keyAll, nil)
	id := cs.ID()
	if id == "" {
		t.Fatal("no session id")
	}
	if resp := post(t, e.srv.URL, keyTeam, id, strings.NewReader(listBody), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another key on the session: %d, want 403", resp.StatusCode)
	}
	if resp := post(t, e.srv.URL, "", id, strings.NewReader(listBody), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no key on the session: %d, want 401", resp.StatusCode)
	}
	resp := post(t, e.srv.URL, keyAll, id, strings.NewReader(listBody), func(r *http.Request) { r.Header.Set("Mcp-Protocol-Version", "2025-06-18") })
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "local__echo") {
		t.Errorf("the session's own key: %d %s", resp.StatusCode, b)
	}
}

func TestOriginAndHostChecked(t *testing.T) {
	e := newEnv(t, func(c *Config, o *Options) {
		c.AllowedOrigins = []string{"https://ide.example.com"}
		o.Open = func() bool { return true }
		o.Hosts = func(h string) bool { return strings.HasPrefix(h, "127.0.0.1:") }
	})
	for _, tc := range []struct {
		name   string
		edit   func(*http.Request)
		status int
	}{
		{"a page elsewhere", func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") }, http.StatusForbidden},
		{"null origin", func(r *http.Request) { r.Header.Set("Origin", "null") }, http.StatusForbidden},
		{"rebound name", func(r *http.Request) { r.Host = "evil.example:80" }, http.StatusForbidden},
		{"rebound name, its own origin", func(r *http.Request) { r.Host = "evil.example"; r.Header.Set("Origin", "http://evil.example") }, http.StatusForbidden},
		{"allowed origin", func(r *http.Request) { r.Header.Set("Origin", "https://ide.example.com") }, http.StatusOK},
		{"same origin", func(r *http.Request) { r.Header.Set("Origin", "http://"+r.Host) }, http.StatusOK},
		{"no origin (not a browser)", nil, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
			if resp := post(t, e.srv.URL, "", "", strings.NewReader(init), tc.edit); resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
	// Open, a key that is presented is still checked.
	if resp := post(t, e.srv.URL, "sk-wrong", "", strings.NewReader(listBody), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("open gateway, wrong key: %d, want 401", resp.StatusCode)
	}
}

// endless is a body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestHugeAndEndlessBodies(t *testing.T) {
	e := newEnv(t, func(_ *Config, o *Options) { o.MaxBodyBytes = 64 << 10 })
	huge := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":"` + strings.Repeat("a", 100<<10) + `"}}`
	if resp := post(t, e.srv.URL, keyAll, "", strings.NewReader(huge), nil); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("huge body: %d, want 413", resp.StatusCode)
	}
	if resp := post(t, e.srv.URL, keyAll, "", io.MultiReader(strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":"`), endless{}), nil); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("endless body: %d, want 413", resp.StatusCode)
	}
	// Without a key the body is never read at all.
	if resp := post(t, e.srv.URL, "", "", endless{}, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("endless body without a key: %d, want 401", resp.StatusCode)
	}
}

func TestCallsCounted(t *testing.T) {
	e := newEnv(t, nil)
	cs := e.connect(t, keyAll, nil)
	toolNames(t, cs) // the tools are known: their names may be labels
	call(t, cs, "team__echo", map[string]any{"text": "x"})
	call(t, cs, "team__fail", nil)
	call(t, cs, "team__rpcerror", map[string]any{"text": "no"})
	call(t, cs, "team__made-up-by-the-client", nil)
	for _, c := range []struct{ tool, status string }{{"echo", StatusOK}, {"fail", StatusToolError}, {"rpcerror", StatusError}, {"other", StatusError}} {
		if n := testutil.ToFloat64(e.g.metrics.calls.WithLabelValues("team", c.tool, c.status)); n != 1 {
			t.Errorf("llmbridge_mcp_tool_calls_total{server=team,tool=%s,status=%s} = %v, want 1", c.tool, c.status, n)
		}
	}
	if n := testutil.CollectAndCount(e.g.metrics.duration); n != 3 {
		t.Errorf("duration series: %d, want 3 (team: ok, tool_error, error)", n)
	}
	if len(e.calls) != 4 || e.calls[0].KeyID != "k-all" || e.calls[1].Status != StatusToolError {
		t.Fatalf("observed calls: %+v", e.calls)
	}
	rec := e.calls[2].UsageRecord()
	if rec.Format != "mcp" || rec.Provider != "team" || rec.Model != "team__rpcerror" || rec.Status != http.StatusBadGateway || rec.KeyID != "k-all" {
		t.Errorf("usage record %+v", rec)
	}
	st := e.g.Status()
	if len(st.Recent) != 4 || st.Recent[0].Tool != "other" {
		t.Errorf("recent calls, newest first: %+v", st.Recent)
	}
}

func TestProtocolVersionsNegotiated(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct{ asked, got string }{{"2025-03-26", "2025-03-26"}, {"2025-06-18", "2025-06-18"}, {"2025-11-25", "2025-11-25"}, {"2024-11-05", "2025-11-25"}} {
		body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"` + tc.asked + `","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
		resp := post(t, e.srv.URL, keyAll, "", strings.NewReader(body), nil)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"protocolVersion":"`+tc.got+`"`) {
			t.Errorf("asked %s: %d %s, want %s", tc.asked, resp.StatusCode, b, tc.got)
		}
	}
}

// TestUpstreamRedirectNotFollowed: a server URL that redirects elsewhere
// does not take the credential there.
func TestUpstreamRedirectNotFollowed(t *testing.T) {
	got := make(chan string, 10)
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
		http.Error(w, "no", http.StatusNotFound)
	}))
	t.Cleanup(elsewhere.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/mcp", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	e := newEnv(t, func(c *Config, _ *Options) {
		c.Servers = append(c.Servers, ServerConfig{Name: "moved", URL: redirector.URL + "/mcp", Headers: map[string]string{"Authorization": "Bearer " + teamToken}})
	})
	cs := e.connect(t, keyAll, nil)
	if _, err := call(t, cs, "moved__echo", map[string]any{"text": "x"}); err == nil {
		t.Error("a call through a redirect succeeded")
	}
	select {
	case a := <-got:
		t.Errorf("the redirect target got a request (Authorization %q)", a)
	default:
	}
}

// TestUseProxy: a server with use_proxy is reached through ProxyURL, one
// without it directly.
func TestUseProxy(t *testing.T) {
	via := make(chan string, 10)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		via <- r.URL.Host // an absolute-form request: the proxy was used
		http.Error(w, "proxy says no", http.StatusBadGateway)
	}))
	t.Cleanup(proxy.Close)
	e := newEnv(t, func(c *Config, o *Options) {
		c.Servers = append(c.Servers, ServerConfig{Name: "far", URL: "http://far.example/mcp", UseProxy: true})
		o.ProxyURL = proxy.URL
	})
	cs := e.connect(t, keyAll, nil)
	if _, err := call(t, cs, "far__echo", nil); err == nil {
		t.Fatal("the call through a refusing proxy succeeded")
	}
	if _, err := call(t, cs, "team__echo", map[string]any{"text": "direct"}); err != nil {
		t.Fatal(err)
	}
	if len(via) == 0 {
		t.Error("the use_proxy server was not reached through the proxy")
	}
	for len(via) > 0 {
		if host := <-via; host != "far.example" {
			t.Errorf("the proxy got a request for %q: only use_proxy servers go through it", host)
		}
	}
	if _, err := New(Config{Servers: []ServerConfig{{Name: "far", URL: "http://far.example/mcp", UseProxy: true}}}, Options{Authenticate: testAuth}); err == nil {
		t.Error("use_proxy without a proxy was accepted")
	}
}
