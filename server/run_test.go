package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// Canary secrets: none may appear in anything the server writes.
const (
	canaryAccess    = "sk-canary-access-1111"
	canaryAccessNew = "sk-canary-access-2222"
	canaryDeepSeek  = "sk-canary-deepseek-3333"
	canaryGoogle    = "sk-canary-google-4444"
	canaryProxyPass = "canary-proxy-pass-5555"
	canaryQuery     = "canary-query-key-6666"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestServerEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ds := testupstream.New(t, testupstream.DeepSeek)
	ds.Key = canaryDeepSeek
	gm := testupstream.New(t, testupstream.GeminiNative)
	deadProxy := testupstream.DeadAddr(t)

	envFile := filepath.Join(dir, ".env")
	os.WriteFile(envFile, []byte("# my keys\nACCESS_API_KEYS="+canaryAccess+"\nDEEPSEEK_API_KEY="+canaryDeepSeek+"\n"), 0o600)
	logFile := filepath.Join(dir, "logs", "requests.log")
	console := &lockedBuffer{}
	addrc := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, runOptions{
			envFile: envFile,
			environ: []string{
				"LLMBRIDGE_ADDR=127.0.0.1:0", "LLMBRIDGE_LOG_FILE=" + logFile, "LLMBRIDGE_LOG_LEVEL=debug", "LLMBRIDGE_DB=" + filepath.Join(dir, "data", "u.db"),
				"DEEPSEEK_BASE_URL=" + ds.BaseURL(), "GOOGLE_API_KEY=" + canaryGoogle, "GEMINI_BASE_URL=" + gm.BaseURL(),
				"LLMBRIDGE_PROXY=socks5h://user:" + canaryProxyPass + "@" + deadProxy, "LLMBRIDGE_RETRIES=0",
			},
			stderr: console,
			ready:  func(a string) { addrc <- a },
			poll:   20 * time.Millisecond,
		})
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("server did not start: %v\n%s", err, console)
	}
	var bodies strings.Builder
	post := func(key, model, query string) int {
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions"+query, strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}],"stream":true}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bodies.Write(b)
		return resp.StatusCode
	}

	if got := post(canaryAccess, "deepseek/deepseek-chat", "?key="+canaryQuery); got != 200 {
		t.Fatalf("chat: %d", got)
	}
	ds.Enqueue(testupstream.Reply{Status: 401, ErrorBody: `{"error":{"message":"Incorrect API key provided: ` + canaryDeepSeek + `","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`})
	if got := post(canaryAccess, "deepseek/deepseek-chat", ""); got != 401 {
		t.Fatalf("upstream 401: %d", got)
	}
	if got := post(canaryAccess, "gemini/gemini-2.0-flash-exp", ""); got != 502 {
		t.Fatalf("proxy down: %d", got)
	}
	if got := post(canaryDeepSeek, "deepseek/deepseek-chat", ""); got != 401 {
		t.Fatalf("provider key as access key: %d", got)
	}

	// Rotate the access key with the keys command; the server reloads.
	if err := keysCommand([]string{"--env-file", envFile, "--access", canaryAccessNew}, io.Discard); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for post(canaryAccessNew, "deepseek/deepseek-chat", "") != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("new key never accepted\n%s", console)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := post(canaryAccess, "deepseek/deepseek-chat", ""); got != 401 {
		t.Errorf("old key still accepted after rotation: %d", got)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	logged, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	statuses := map[float64]int{}
	sc := bufio.NewScanner(bytes.NewReader(logged))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Bytes())
		}
		statuses[m["status"].(float64)]++
		lines++
	}
	// The one 401 is the upstream's (its key refused); the clients' wrong
	// keys are no usage and leave no line (issue 24, item 6).
	if statuses[200] < 2 || statuses[401] != 1 || statuses[502] != 1 {
		t.Errorf("statuses in the request log: %v\n%s", statuses, logged)
	}
	if !strings.Contains(console.String(), "configuration reloaded") || !strings.Contains(console.String(), "provider goes through proxy") {
		t.Errorf("console:\n%s", console)
	}
	everything := console.String() + string(logged) + bodies.String()
	for _, c := range []string{canaryAccess, canaryAccessNew, canaryDeepSeek, canaryGoogle, canaryProxyPass, canaryQuery} {
		if strings.Contains(everything, c) {
			t.Errorf("secret %q appears in what the server wrote", c)
		}
	}
	if lines == 0 {
		t.Fatal("empty request log")
	}
}

// The keys command as the server wires it: the server's provider flags
// reach the .env file, and what it writes is a configuration the server
// loads. (The file's rewriting rules are keyscli's: TestRotate there.)
func TestKeysCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(path, []byte("ACCESS_API_KEYS=old\nOPENAI_API_KEY=old-openai\n"), 0o600)
	if err := keysCommand([]string{"--env-file", path, "--access", "a1,a2", "--openai", "sk new#1", "--deepseek", "ds"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(mustRead(t, path))
	if err != nil || cfg.builtin("openai").Key != "sk new#1" || cfg.builtin("deepseek").Key != "ds" || strings.Join(cfg.AccessKeys, ",") != "a1,a2" {
		t.Fatalf("read back: %+v %v", cfg, err)
	}
	if err := keysCommand([]string{"--env-file", path}, io.Discard); err == nil {
		t.Error("no flags accepted")
	}
}

func mustRead(t *testing.T, path string) map[string]string {
	t.Helper()
	s := &server{opts: runOptions{envFile: path, environ: []string{}}}
	m, err := s.environ()
	if err != nil {
		t.Fatal(err)
	}
	return m
}
