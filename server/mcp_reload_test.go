package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMCPClosesWhenReloadAddsAccessKeys: /mcp serves anonymous callers
// only while the configuration in force has no access keys. A reload
// that adds ACCESS_API_KEYS closes it at once: new anonymous requests
// and the anonymous sessions already open get 401.
func TestMCPClosesWhenReloadAddsAccessKeys(t *testing.T) {
	team := testupstream.NewMCPHTTP(t, "team-token-for-the-bridge")
	yaml := writeConfig(t, `
mcp:
  servers:
    - name: team
      url: `+team.URL+`/mcp
      headers: {Authorization: "Bearer ${TEAM_TOOLS_TOKEN}"}
`)
	envFile := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(envFile, []byte("# no access keys yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	console := &lockedBuffer{}
	addrc := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, runOptions{envFile: envFile, poll: 20 * time.Millisecond, stderr: console, stdout: io.Discard, ready: func(a string) { addrc <- a },
			environ: []string{"LLMBRIDGE_ADDR=127.0.0.1:0", "LLMBRIDGE_CONFIG=" + yaml, "TEAM_TOOLS_TOKEN=team-token-for-the-bridge"}})
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v\n%s", err, console)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})

	// No access keys: anonymous callers on loopback are served.
	cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer ccancel()
	anon, err := mcp.NewClient(&mcp.Implementation{Name: "anon", Version: "1"}, nil).Connect(cctx,
		&mcp.StreamableClientTransport{Endpoint: "http://" + addr + "/mcp", HTTPClient: &http.Client{}, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("anonymous connect without access keys: %v", err)
	}
	t.Cleanup(func() { anon.Close() })
	res, err := anon.ListTools(cctx, nil)
	if err != nil || !slices.ContainsFunc(res.Tools, func(tl *mcp.Tool) bool { return tl.Name == "team__echo" }) {
		t.Fatalf("anonymous tools/list without access keys: %v %+v", err, res)
	}

	if err := os.WriteFile(envFile, []byte("ACCESS_API_KEYS="+keyA+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(console.String(), "configuration reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload:\n%s", console)
		}
		time.Sleep(20 * time.Millisecond)
	}

	initBody := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
	if code, body := doMCP(t, addr, "", initBody); code != http.StatusUnauthorized {
		t.Errorf("anonymous initialize after ACCESS_API_KEYS was added: %d %s, want 401", code, body)
	}
	if _, err := anon.CallTool(cctx, &mcp.CallToolParams{Name: "team__echo", Arguments: map[string]any{"text": "still open?"}}); err == nil {
		t.Error("the anonymous session still calls tools after ACCESS_API_KEYS was added")
	}
	if _, names := mcpTools(t, addr, keyA); !slices.Contains(names, "team__echo") {
		t.Errorf("the new access key sees %v", names)
	}
}

// doMCP posts a raw JSON-RPC body to /mcp, with key unless empty.
func doMCP(t *testing.T, addr, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/mcp", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
