package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/sse"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type bearerRT string

func (k bearerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(k))
	return http.DefaultTransport.RoundTrip(r)
}

// mcpTools connects the official SDK's client to the server's /mcp with
// key and lists the tools it sees.
func mcpTools(t *testing.T, addr, key string) (*mcp.ClientSession, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "server-test", Version: "1"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: "http://" + addr + "/mcp", HTTPClient: &http.Client{Transport: bearerRT(key)}, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("connect with %s: %v", key, err)
	}
	t.Cleanup(func() { cs.Close() })
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	return cs, names
}

// TestMCPGatewayWired: the YAML file's mcp: servers on /mcp, behind the
// access keys (with the keys: section's mcp_servers) and virtual keys,
// counted in /metrics and the usage store.
func TestMCPGatewayWired(t *testing.T) {
	team := testupstream.NewMCPHTTP(t, "team-token-for-the-bridge")
	yaml := writeConfig(t, `
mcp:
  servers:
    - name: team
      url: `+team.URL+`/mcp
      headers: {Authorization: "Bearer ${TEAM_TOOLS_TOKEN}"}
keys:
  - key_id: `+llmbridge.KeyID(keyB)+`
    mcp_servers: [other-*]
`)
	in := startServer(t, []string{"LLMBRIDGE_ADDR=127.0.0.1:0", "ACCESS_API_KEYS=" + keyA + "," + keyB, "LLMBRIDGE_ADMIN_KEY=" + canaryAdmin,
		"LLMBRIDGE_CONFIG=" + yaml, "TEAM_TOOLS_TOKEN=team-token-for-the-bridge", "LLMBRIDGE_DB=" + filepath.Join(t.TempDir(), "u.db")})
	if code, _ := in.do(t, "POST", "/mcp", "", `{}`); code != http.StatusUnauthorized {
		t.Fatalf("/mcp without a key: %d", code)
	}
	csA, names := mcpTools(t, in.addr, keyA)
	if !slices.Contains(names, "team__echo") {
		t.Fatalf("key A sees %v", names)
	}
	if _, names := mcpTools(t, in.addr, keyB); len(names) != 0 {
		t.Errorf("key B (mcp_servers: [other-*]) sees %v", names)
	}
	code, body := in.do(t, "POST", "/admin/api/keys", canaryAdmin, `{"name":"agent","mcp_servers":["te*"]}`)
	var vk struct{ Key string }
	if err := json.Unmarshal([]byte(body), &vk); err != nil || code != 201 || !strings.Contains(body, `"mcp_servers":["te*"]`) {
		t.Fatalf("create a virtual key: %d %s", code, body)
	}
	if _, names := mcpTools(t, in.addr, vk.Key); !slices.Contains(names, "team__whoami") {
		t.Errorf("virtual key with mcp_servers [te*] sees %v", names)
	}
	ctx, stopFeed := context.WithCancel(context.Background())
	defer stopFeed()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+in.addr+"/admin/api/live", nil)
	req.Header.Set("Authorization", "Bearer "+canaryAdmin)
	feed, err := http.DefaultClient.Do(req)
	if err != nil || feed.StatusCode != 200 {
		t.Fatalf("live feed: %v %v", err, feed)
	}
	defer feed.Body.Close()
	res, err := csA.CallTool(context.Background(), &mcp.CallToolParams{Name: "team__echo", Arguments: map[string]any{"text": "through the bridge"}})
	if err != nil || res.IsError {
		t.Fatalf("call: %v %+v", err, res)
	}
	ev, err := sse.NewReader(feed.Body).Next()
	if err != nil || !strings.Contains(string(ev.Data), `"format":"mcp"`) || !strings.Contains(string(ev.Data), `"model":"team__echo"`) {
		t.Errorf("live feed event: %v %s", err, ev.Data)
	}
	if _, m := in.do(t, "GET", "/metrics", "", ""); !strings.Contains(m, `llmbridge_mcp_tool_calls_total{server="team",status="ok",tool="echo"} 1`) {
		t.Errorf("metrics lack the call:\n%s", grepLines(m, "mcp"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, page := in.do(t, "GET", "/admin/api/requests?limit=10", canaryAdmin, "")
		if strings.Contains(page, `"client_model":"team__echo"`) && strings.Contains(page, `"provider":"team"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tool call is not in the usage store: %s", page)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, st := in.do(t, "GET", "/admin/api/mcp", canaryAdmin, "")
	if code != 200 || !strings.Contains(st, `"state":"up"`) || !strings.Contains(st, `"team__echo"`) || !strings.Contains(st, `"tool":"echo","status":"ok"`) {
		t.Errorf("/admin/api/mcp: %d %s", code, st)
	}
	if strings.Contains(in.console.String()+st, "team-token-for-the-bridge") {
		t.Error("the upstream's token reached the log")
	}
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}
