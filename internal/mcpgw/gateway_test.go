package mcpgw

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
)

// stdioBin is the stdio upstream (testdata/stdioserver), built once.
var stdioBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mcpgw")
	if err != nil {
		panic(err)
	}
	stdioBin = filepath.Join(dir, "stdioserver")
	if out, err := exec.Command("go", "build", "-o", stdioBin, "./testdata/stdioserver").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the stdio MCP server: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	teamToken = "team-upstream-token-7f3a9c"
	keyAll    = "sk-client-all-servers"
	keyTeam   = "sk-client-team-only"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a gateway in front of a stdio server ("local") and a
// Streamable HTTP server ("team"), served on a test listener.
type env struct {
	g     *Gateway
	srv   *httptest.Server
	team  *httptest.Server
	logs  *syncBuffer
	reg   *prometheus.Registry
	mu    sync.Mutex
	calls []Call
}

func testAuth(h http.Header) (Caller, error) {
	switch strings.TrimPrefix(h.Get("Authorization"), "Bearer ") {
	case keyAll:
		return Caller{KeyID: "k-all"}, nil
	case keyTeam:
		return Caller{KeyID: "k-team", Allows: func(s string) bool { return s == "team" }}, nil
	}
	return Caller{}, ErrUnauthorized
}

func newEnv(t *testing.T, edit func(*Config, *Options)) *env {
	t.Helper()
	t.Setenv("OPENAI_API_KEY", "sk-provider-key-must-not-reach-tools")
	e := &env{team: testupstream.NewMCPHTTP(t, teamToken), logs: &syncBuffer{}, reg: prometheus.NewRegistry()}
	cfg := Config{Servers: []ServerConfig{
		{Name: "local", Command: []string{stdioBin}, Env: map[string]string{"LOG_LEVEL": "debug"}},
		{Name: "team", URL: e.team.URL + "/mcp", Headers: map[string]string{"Authorization": "Bearer ${TEAM_TOKEN}"}},
	}}
	if err := cfg.Resolve(map[string]string{"TEAM_TOKEN": teamToken}); err != nil {
		t.Fatal(err)
	}
	o := Options{Authenticate: testAuth, Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: e.reg, Backoff: func(int) time.Duration { return 20 * time.Millisecond }, TerminateDuration: time.Second,
		Observers: []func(Call){func(c Call) { e.mu.Lock(); e.calls = append(e.calls, c); e.mu.Unlock() }}}
	if edit != nil {
		edit(&cfg, &o)
	}
	g, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	e.g = g
	e.srv = httptest.NewServer(g)
	t.Cleanup(func() {
		e.srv.CloseClientConnections()
		g.Close()
		e.srv.Close()
	})
	return e
}

// bearer adds a key and extra headers to a client's requests.
type bearer struct {
	key   string
	extra http.Header
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.key != "" {
		r.Header.Set("Authorization", "Bearer "+b.key)
	}
	for k, v := range b.extra {
		r.Header[k] = v
	}
	return http.DefaultTransport.RoundTrip(r)
}

// connect opens a session with the official SDK's client.
func (e *env) connect(t *testing.T, key string, o *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	return connectURL(t, e.srv.URL, &bearer{key: key}, o)
}

func connectURL(t *testing.T, url string, rt http.RoundTripper, o *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "gateway-test", Version: "1"}, o)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: rt}, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

func call(t *testing.T, cs *mcp.ClientSession, name string, args any) (*mcp.CallToolResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
}

func resultText(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func TestToolsAggregatedAndRouted(t *testing.T) {
	e := newEnv(t, nil)
	cs := e.connect(t, keyAll, nil)
	names := toolNames(t, cs)
	for _, want := range []string{"local__echo", "local__crash", "team__echo", "team__whoami"} {
		if !slices.Contains(names, want) {
			t.Errorf("tools/list lacks %s: %v", want, names)
		}
	}
	if slices.Contains(names, "team__crash") {
		t.Errorf("team has no crash tool, listed %v", names)
	}
	for _, name := range []string{"local__echo", "team__echo"} {
		res, err := call(t, cs, name, map[string]any{"text": "hi " + name})
		if err != nil || res.IsError || resultText(res) != "hi "+name {
			t.Fatalf("%s: %v %+v", name, err, res)
		}
	}
}

func TestNoKeyIs401(t *testing.T) {
	e := newEnv(t, nil)
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
	for name, auth := range map[string]string{"none": "", "wrong": "Bearer sk-wrong", "x-api-key only": ""} {
		req, _ := http.NewRequest("POST", e.srv.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if name == "x-api-key only" {
			req.Header.Set("X-Api-Key", "sk-wrong")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, resp.StatusCode)
		}
	}
}

func TestKeySeesAndCallsOnlyItsServers(t *testing.T) {
	e := newEnv(t, nil)
	// A forged header naming servers (as some gateways read) changes nothing.
	rt := &bearer{key: keyTeam, extra: http.Header{"X-Mcp-Servers": {"local"}, "X-Llmbridge-Mcp-Servers": {"*"}}}
	cs := connectURL(t, e.srv.URL, rt, nil)
	for _, n := range toolNames(t, cs) {
		if !strings.HasPrefix(n, "team__") {
			t.Errorf("key limited to team lists %s", n)
		}
	}
	_, err := call(t, cs, "local__echo", map[string]any{"text": "x"})
	if err == nil || !strings.Contains(err.Error(), `unknown tool "local__echo"`) {
		t.Fatalf("calling a server the key may not use: %v", err)
	}
	// The same answer as for a tool that does not exist: nothing learnt.
	_, err2 := call(t, cs, "nosuch__echo", map[string]any{"text": "x"})
	if err2 == nil || strings.Replace(err.Error(), "local", "nosuch", 1) != err2.Error() {
		t.Errorf("refusal %q differs from unknown %q", err, err2)
	}
	res, err := cs.ListResources(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Resources {
		if !strings.HasPrefix(r.URI, "llmbridge://team/") {
			t.Errorf("resource of another server listed: %s", r.URI)
		}
	}
	if _, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: wrapURI("local", "file:///team/notes.txt")}); err == nil {
		t.Error("read a resource of a server the key may not use")
	}
	if _, err := cs.GetPrompt(context.Background(), &mcp.GetPromptParams{Name: "local__greet"}); err == nil {
		t.Error("got a prompt of a server the key may not use")
	}
	if len(e.calls) != 0 {
		t.Errorf("refused calls were counted as calls: %+v", e.calls)
	}
}

func TestUpstreamCredentialInjectedClientKeyNotForwarded(t *testing.T) {
	e := newEnv(t, nil)
	cs := e.connect(t, keyAll, nil)
	res, err := call(t, cs, "team__whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	var seen map[string]any
	if err := json.Unmarshal([]byte(resultText(res)), &seen); err != nil {
		t.Fatal(err)
	}
	if seen["authorization"] != "Bearer "+teamToken {
		t.Errorf("the team server got Authorization %q", seen["authorization"])
	}
	res, err = call(t, cs, "local__whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(resultText(res)), &seen); err != nil {
		t.Fatal(err)
	}
	if seen["openai_api_key_set"] != false || seen["log_level"] != "debug" {
		t.Errorf("stdio server environment: %v (the bridge's keys must not reach it; env: must)", seen)
	}
	// An upstream that puts its credential in an error: redacted, data dropped.
	_, err = call(t, cs, "team__rpcerror", map[string]any{"text": "denied for Bearer " + teamToken})
	if err == nil || strings.Contains(err.Error(), teamToken) || !strings.Contains(err.Error(), "[redacted]") || strings.Contains(err.Error(), "secret") {
		t.Errorf("upstream error reached the client as %v", err)
	}
	all := e.logs.String() + fmt.Sprint(e.g.Status()) + fmt.Sprint(e.calls)
	for _, secret := range []string{teamToken, keyAll} {
		if strings.Contains(all, secret) {
			t.Errorf("a secret reached the log or status: %s", secret)
		}
	}
}

func TestResourcesAndPromptsPrefixed(t *testing.T) {
	e := newEnv(t, nil)
	cs := e.connect(t, keyAll, nil)
	res, err := cs.ListResources(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, r := range res.Resources {
		uris = append(uris, r.URI+" "+r.Name)
	}
	slices.Sort(uris)
	want := []string{"llmbridge://local/file:%2F%2F%2Fteam%2Fnotes.txt local__notes", "llmbridge://team/file:%2F%2F%2Fteam%2Fnotes.txt team__notes"}
	if !slices.Equal(uris, want) {
		t.Fatalf("resources %v, want %v", uris, want)
	}
	rr, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "llmbridge://team/file:%2F%2F%2Fteam%2Fnotes.txt"})
	if err != nil || len(rr.Contents) != 1 || rr.Contents[0].Text != "team notes" || rr.Contents[0].URI != "llmbridge://team/file:%2F%2F%2Fteam%2Fnotes.txt" {
		t.Fatalf("read: %v %+v", err, rr)
	}
	// The upstream's own URI is not the gateway's: nothing is read verbatim.
	if _, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "file:///team/notes.txt"}); err == nil {
		t.Error("read an upstream URI directly")
	}
	p, err := cs.GetPrompt(context.Background(), &mcp.GetPromptParams{Name: "team__greet", Arguments: map[string]string{"name": "Ada"}})
	if err != nil || len(p.Messages) != 1 || p.Messages[0].Content.(*mcp.TextContent).Text != "Hello Ada" {
		t.Fatalf("prompt: %v %+v", err, p)
	}
}
