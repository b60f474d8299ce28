package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/redistest"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// The operator's story: a key for a teammate limited to openai/* at 1 RPM
// from the CLI; the teammate's requests work until the limit, then get
// OpenAI-shaped 429s with the headers; revoking from the CLI takes effect
// in the running server; /healthz says where the limits are kept.
func TestVirtualKeysThroughTheServer(t *testing.T) {
	for _, withRedis := range []bool{false, true} {
		name := "in-process"
		if withRedis {
			name = "redis"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			up := testupstream.New(t, testupstream.OpenAI)
			envFile := filepath.Join(dir, ".env")
			staticID := llmbridge.KeyID("static-key")
			yamlFile := filepath.Join(dir, "config.yaml")
			os.WriteFile(yamlFile, []byte("keys:\n  - key_id: "+staticID+"\n    rpm: 1\n    models: [\"openai/*\"]\n"), 0o600)
			environ := []string{"LLMBRIDGE_ADDR=127.0.0.1:0", "LLMBRIDGE_LOG_FILE=" + filepath.Join(dir, "r.log"), "LLMBRIDGE_DB=" + filepath.Join(dir, "u.db"),
				"ACCESS_API_KEYS=static-key", "OPENAI_API_KEY=" + up.Key, "OPENAI_BASE_URL=" + up.BaseURL(), "LLMBRIDGE_CONFIG=" + yamlFile,
				"LLMBRIDGE_DEMO=false", "LLMBRIDGE_DISCOVER_LOCAL=false", "LLMBRIDGE_EXPECTED_REPLICAS=3"}
			if withRedis {
				environ = append(environ, "LLMBRIDGE_REDIS_URL="+redistest.Start(t).URL())
			}
			o := runOptions{envFile: envFile, environ: environ, stdout: io.Discard, stderr: io.Discard}
			var out strings.Builder
			o.stdout = &out
			if err := run(context.Background(), withArgs(o, "keys", "create", "--name", "teammate", "--models", "openai/*", "--rpm", "1", "--daily-budget-usd", "5")); err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile(`created (vk_[0-9a-f]{16}).*\n.*: (sk-lb-\S+)`).FindStringSubmatch(out.String())
			if m == nil {
				t.Fatalf("create printed %q", out.String())
			}
			id, secret := m[1], m[2]

			addr, stop := startLimitedServer(t, o)
			defer stop()
			post := func(key, model string) *http.Response {
				req, _ := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions", strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				resp.Header.Set("X-Test-Body", string(b))
				return resp
			}
			if r := post(secret, "openai/gpt-4o"); r.StatusCode != 200 || r.Header.Get("x-ratelimit-remaining-requests") != "0" {
				t.Fatalf("first: %d %v", r.StatusCode, r.Header)
			}
			if r := post(secret, "openai/gpt-4o"); r.StatusCode != 429 || !strings.Contains(r.Header.Get("X-Test-Body"), `"rate_limit_exceeded"`) || r.Header.Get("Retry-After") == "" {
				t.Fatalf("second: %d %v", r.StatusCode, r.Header)
			}
			if r := post(secret, "deepseek/deepseek-chat"); r.StatusCode != 403 {
				t.Fatalf("other model: %d", r.StatusCode)
			}
			if r := post("static-key", "openai/gpt-4o"); r.StatusCode != 200 || r.Header.Get("x-ratelimit-limit-requests") != "1" {
				t.Fatalf("static key: %d %v", r.StatusCode, r.Header)
			}
			if r := post("static-key", "openai/gpt-4o"); r.StatusCode != 429 {
				t.Fatalf("static key over its YAML limit: %d", r.StatusCode)
			}
			resp, err := http.Get("http://" + addr + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			health, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := `"limits":"` + map[bool]string{false: "in-process", true: "redis"}[withRedis] + `"`; !strings.Contains(string(health), want) {
				t.Errorf("healthz %s, want %s", health, want)
			}

			out.Reset()
			if err := run(context.Background(), withArgs(o, "keys", "revoke", id)); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "revoked") || strings.Contains(out.String(), secret[6:]) {
				t.Errorf("revoke printed %q", out.String())
			}
			deadline := time.Now().Add(time.Second)
			for post(secret, "openai/gpt-4o").StatusCode != 401 {
				if time.Now().After(deadline) {
					t.Fatal("revoked key still admitted after 1s")
				}
				time.Sleep(20 * time.Millisecond)
			}
			out.Reset()
			if err := run(context.Background(), withArgs(o, "keys", "list")); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), id) || !strings.Contains(out.String(), "teammate") || strings.Contains(out.String(), secret[6:]) {
				t.Errorf("list printed %q", out.String())
			}
		})
	}
}

func withArgs(o runOptions, args ...string) runOptions {
	o.args = args
	return o
}

// startLimitedServer runs the server of o until stop.
func startLimitedServer(t *testing.T, o runOptions) (addr string, stop func()) {
	t.Helper()
	addrc := make(chan string, 1)
	o.ready = func(a string) { addrc <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, o) }()
	select {
	case addr = <-addrc:
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v", err)
	}
	return addr, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	}
}

func TestKeyPoliciesYAML(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"keys:\n  - rpm: 1\n", "key_id is required"},
		{"keys:\n  - key_id: key-1\n    rpm: -1\n", "rpm"},
		{"keys:\n  - key_id: key-1\n  - key_id: key-1\n", "twice"},
		{"keys:\n  - key_id: key-1\n    colour: red\n", "colour"},
	} {
		f := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(f, []byte(tc.yaml), 0o600)
		_, err := loadConfig(map[string]string{"LLMBRIDGE_CONFIG": f})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error naming %q", tc.yaml, err, tc.want)
		}
	}
}
