package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// The server wires the admin API to its admitter: a key created with
// POST /admin/api/keys works on the very next request, and one revoked
// with DELETE is refused on the very next one (the admitter's poll would
// see either only up to 250 ms later).
func TestAdminKeyChangesHoldAtOnce(t *testing.T) {
	dir := t.TempDir()
	up := testupstream.New(t, testupstream.OpenAI)
	o := runOptions{envFile: filepath.Join(dir, ".env"), stdout: io.Discard, stderr: io.Discard, environ: []string{
		"LLMBRIDGE_ADDR=127.0.0.1:0", "LLMBRIDGE_LOG_FILE=" + filepath.Join(dir, "r.log"), "LLMBRIDGE_DB=" + filepath.Join(dir, "u.db"),
		"ACCESS_API_KEYS=static-key", "LLMBRIDGE_ADMIN_KEY=admin-key-for-tests", "OPENAI_API_KEY=" + up.Key, "OPENAI_BASE_URL=" + up.BaseURL(),
		"LLMBRIDGE_DEMO=false", "LLMBRIDGE_DISCOVER_LOCAL=false"}}
	addr, stop := startLimitedServer(t, o)
	defer stop()
	do := func(method, path, key, body string) (int, []byte) {
		req, _ := http.NewRequestWithContext(context.Background(), method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	const chat = `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}]}`
	for i := range 3 {
		code, body := do("POST", "/admin/api/keys", "admin-key-for-tests", `{"name":"script"}`)
		var k struct{ ID, Key string }
		if err := json.Unmarshal(body, &k); err != nil || code != 201 {
			t.Fatalf("create: %d %s", code, body)
		}
		if code, body := do("POST", "/v1/chat/completions", k.Key, chat); code != 200 {
			t.Fatalf("round %d: the key just created: %d %s, want 200", i, code, body)
		}
		if code, body := do("DELETE", "/admin/api/keys/"+k.ID, "admin-key-for-tests", ""); code != 200 {
			t.Fatalf("revoke: %d %s", code, body)
		}
		if code, body := do("POST", "/v1/chat/completions", k.Key, chat); code != 401 {
			t.Fatalf("round %d: the key just revoked: %d %s, want 401", i, code, body)
		}
	}
}
