package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/pgtest"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

const (
	canaryAdmin = "sk-canary-admin-7777"
	keyA        = "sk-access-a"
	keyB        = "sk-access-b"
)

type instance struct {
	addr    string
	console *lockedBuffer
	stop    func()
}

// startServer runs the real server (run) with environ until the test
// ends or stop is called.
func startServer(t *testing.T, environ []string) *instance {
	t.Helper()
	in := &instance{console: &lockedBuffer{}}
	addrc := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, runOptions{envFile: filepath.Join(t.TempDir(), ".env"), environ: environ, stderr: in.console, stdout: io.Discard,
			ready: func(a string) { addrc <- a }})
	}()
	select {
	case in.addr = <-addrc:
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v\n%s", err, in.console)
	}
	stopped := false
	in.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	}
	t.Cleanup(in.stop)
	return in
}

func (in *instance) do(t *testing.T, method, path, key, body string) (int, string) {
	t.Helper()
	return doWith(t, method, "http://"+in.addr+path, "", key, body)
}

func (in *instance) chat(t *testing.T, key, model string, stream bool) int {
	t.Helper()
	status, body := in.do(t, "POST", "/v1/chat/completions", key,
		fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi"}],"stream":%v}`, model, stream))
	if stream && status == 200 && !strings.Contains(body, "[DONE]") {
		t.Fatalf("stream without [DONE]: %s", body)
	}
	return status
}

// TestUsageEndToEnd sends traffic through the real server to fakes that
// report usage the way each provider does (OpenAI cached tokens, DeepSeek
// cache hits, Anthropic cache reads and writes), then asks what each model
// and key cost from the admin API, as CSV, and from the usage command —
// on SQLite, and on one PostgreSQL database shared by two instances.
func TestUsageEndToEnd(t *testing.T) {
	oa := testupstream.New(t, testupstream.OpenAI)
	oa.SetDefault(testupstream.Reply{Content: []string{"a", "b"}, Usage: testupstream.Usage{Prompt: 1000, Cached: 600, Completion: 200}})
	ds := testupstream.New(t, testupstream.DeepSeek)
	ds.SetDefault(testupstream.Reply{Content: []string{"c"}, Usage: testupstream.Usage{Prompt: 20, Cached: 16, Completion: 2}})
	an := testupstream.New(t, testupstream.Anthropic)
	an.SetDefault(testupstream.Reply{Content: []string{"d"}, Usage: testupstream.Usage{Prompt: 125, Cached: 100, CacheWrite: 5, Completion: 10}})

	dir := t.TempDir()
	yamlFile := filepath.Join(dir, "llmbridge.yaml")
	// A price override: 400 × 1 + 600 × 0.5 + 200 × 2 = 1100 µ$ per request.
	os.WriteFile(yamlFile, []byte("prices:\n  openai/gpt-4o-mini: {input: 1, cached_input: 0.5, output: 2}\n"), 0o600)
	base := []string{
		"LLMBRIDGE_ADDR=127.0.0.1:0", "ACCESS_API_KEYS=" + keyA + "," + keyB, "LLMBRIDGE_ADMIN_KEY=" + canaryAdmin,
		"LLMBRIDGE_CONFIG=" + yamlFile, "LLMBRIDGE_LOG_LEVEL=debug",
		"OPENAI_API_KEY=sk-upstream-test", "OPENAI_BASE_URL=" + oa.BaseURL(),
		"DEEPSEEK_API_KEY=sk-upstream-test", "DEEPSEEK_BASE_URL=" + ds.BaseURL(),
		"ANTHROPIC_API_KEY=sk-upstream-test", "ANTHROPIC_BASE_URL=" + an.BaseURL(),
	}
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			var env []string
			switch store {
			case "sqlite":
				env = append(base, "LLMBRIDGE_DB="+filepath.Join(t.TempDir(), "data", "llmbridge.db"))
			case "postgres":
				env = append(base, "LLMBRIDGE_DATABASE_URL="+pgtest.URL(t))
			}
			logDir := t.TempDir()
			one := startServer(t, append(env, "LLMBRIDGE_LOG_FILE="+filepath.Join(logDir, "1.log")))
			two := one
			if store == "postgres" {
				two = startServer(t, append(env, "LLMBRIDGE_LOG_FILE="+filepath.Join(logDir, "2.log")))
			}
			// Key A on instance one, key B on instance two (the same on SQLite).
			for i, stream := range []bool{true, false, false} {
				if got := one.chat(t, keyA, "openai/gpt-4o-mini", stream); got != 200 {
					t.Fatalf("openai %d: %d", i, got)
				}
			}
			for range 2 {
				if got := one.chat(t, keyA, "deepseek/deepseek-chat", true); got != 200 {
					t.Fatalf("deepseek: %d", got)
				}
			}
			for _, stream := range []bool{true, false} {
				if got := two.chat(t, keyB, "anthropic/claude-sonnet-4-5", stream); got != 200 {
					t.Fatalf("anthropic: %d", got)
				}
			}
			if got := two.chat(t, keyB, "nosuch/model", false); got != 404 {
				t.Fatalf("unknown model: %d", got)
			}

			const query = "/admin/api/usage?from=2000-01-01&to=2100-01-01&group_by=model,key"
			var rep struct {
				Rows   []map[string]any `json:"rows"`
				Totals map[string]any   `json:"totals"`
			}
			var body string
			deadline := time.Now().Add(10 * time.Second)
			for {
				var status int
				status, body = one.do(t, "GET", query, canaryAdmin, "")
				if status != 200 {
					t.Fatalf("%d %s", status, body)
				}
				if err := json.Unmarshal([]byte(body), &rep); err != nil {
					t.Fatal(err)
				}
				if rep.Totals["requests"] == 8.0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			a, b := llmbridge.KeyID(keyA), llmbridge.KeyID(keyB)
			want := []string{
				fmt.Sprintf("anthropic/claude-sonnet-4-5 %s req=2 err=0 prompt=250 cached=200 write=10 completion=20 cost=0.0005175", b),
				fmt.Sprintf("deepseek/deepseek-chat %s req=2 err=0 prompt=40 cached=32 write=0 completion=4 cost=4.816e-06", a),
				fmt.Sprintf("nosuch/model %s req=1 err=1 prompt=0 cached=0 write=0 completion=0 cost=<nil>", b),
				fmt.Sprintf("openai/gpt-4o-mini %s req=3 err=0 prompt=3000 cached=1800 write=0 completion=600 cost=0.0033", a),
			}
			var got []string
			for _, r := range rep.Rows {
				got = append(got, fmt.Sprintf("%v %v req=%v err=%v prompt=%v cached=%v write=%v completion=%v cost=%v", r["model"], r["key_id"],
					r["requests"], r["errors"], r["prompt_tokens"], r["cached_tokens"], r["cache_write_tokens"], r["completion_tokens"], r["cost_usd"]))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("report rows\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if c := rep.Totals["cost_usd"].(float64); math.Abs(c-0.003822316) > 1e-12 || rep.Totals["unpriced_requests"] != 1.0 {
				t.Fatalf("totals %v", rep.Totals)
			}
			if status, _ := one.do(t, "GET", query, keyA, ""); status != 401 {
				t.Errorf("an access key on the admin API: %d", status)
			}
			status, csv := one.do(t, "GET", query+"&format=csv", canaryAdmin, "")
			if status != 200 || !strings.HasPrefix(csv, "model,key_id,requests,") || strings.Count(csv, "\n") != 5 {
				t.Fatalf("csv %d:\n%s", status, csv)
			}
			status, page := two.do(t, "GET", "/admin/api/requests?limit=100", canaryAdmin, "")
			if status != 200 || strings.Count(page, `"request_id"`) != 8 {
				t.Fatalf("requests %d: %s", status, page)
			}
			one.stop()
			two.stop()

			// The usage command reads the same store: the same report.
			for _, format := range []string{"json", "csv", "table"} {
				var out bytes.Buffer
				err := run(context.Background(), runOptions{args: []string{"usage", "--from", "2000-01-01", "--to", "2100-01-01", "--group-by", "model,key", "--format", format},
					envFile: filepath.Join(t.TempDir(), ".env"), environ: env, stdout: &out, stderr: io.Discard})
				if err != nil {
					t.Fatal(err)
				}
				switch format {
				case "json":
					if strings.TrimSpace(out.String()) != strings.TrimSpace(body) {
						t.Errorf("usage --format json differs from the API:\n%s\n%s", out.String(), body)
					}
				case "csv":
					if out.String() != csv {
						t.Errorf("usage --format csv differs from the API:\n%s\n%s", out.String(), csv)
					}
				case "table":
					if !strings.Contains(out.String(), "openai/gpt-4o-mini") || !strings.Contains(out.String(), "TOTAL") || !strings.Contains(out.String(), "0.003822316") {
						t.Errorf("table:\n%s", out.String())
					}
				}
			}
			var ids bytes.Buffer
			if err := run(context.Background(), runOptions{args: []string{"usage", "--keys"}, envFile: filepath.Join(t.TempDir(), ".env"),
				environ: env, stdout: &ids, stderr: io.Discard}); err != nil {
				t.Fatal(err)
			}
			if want := a + "  ACCESS_API_KEYS #1  …\n" + b + "  ACCESS_API_KEYS #2  …\n"; ids.String() != want {
				t.Errorf("usage --keys:\n%s\nwant\n%s", ids.String(), want)
			}
			for _, in := range []*instance{one, two} {
				if strings.Contains(in.console.String(), canaryAdmin) || strings.Contains(in.console.String(), "password") {
					t.Errorf("a secret in the console:\n%s", in.console)
				}
			}
		})
	}
}

func TestUsageStoreOffAndAdminOff(t *testing.T) {
	in := startServer(t, []string{"LLMBRIDGE_ADDR=127.0.0.1:0", "LLMBRIDGE_DB=off", "LLMBRIDGE_LOG_FILE=" + filepath.Join(t.TempDir(), "r.log")})
	// On loopback without an admin key the admin API opens only to the
	// browser signed in by the first run's one-time link (issue 29.6).
	if status, body := in.do(t, "GET", "/admin/api/usage", "x", ""); status != 401 || !strings.Contains(body, "LLMBRIDGE_ADMIN_KEY") {
		t.Fatalf("%d %s", status, body)
	}
	if status, body := in.do(t, "GET", "/v1/models", "", ""); status != 200 {
		t.Fatalf("the bridge still serves: %d %s", status, body)
	}
	in.stop()
	if !strings.Contains(in.console.String(), "usage store is off") {
		t.Errorf("console:\n%s", in.console)
	}
	err := run(context.Background(), runOptions{args: []string{"usage"}, envFile: filepath.Join(t.TempDir(), ".env"),
		environ: []string{"LLMBRIDGE_DB=" + filepath.Join(t.TempDir(), "missing.db")}, stdout: io.Discard, stderr: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "no usage database") {
		t.Fatalf("usage on a missing database: %v", err)
	}
}

// TestUsageCountsCacheHits repeats a cacheable request through the real
// server with the response cache on: the misses cost what the upstream
// reported, the hits cost nothing and the report (admin API JSON and CSV,
// the usage command) counts them in cache_hits and what they saved in
// saved_usd — on SQLite and PostgreSQL.
func TestUsageCountsCacheHits(t *testing.T) {
	oa := testupstream.New(t, testupstream.OpenAI)
	oa.SetDefault(testupstream.Reply{Content: []string{"a", "b"}, Usage: testupstream.Usage{Prompt: 1000, Cached: 600, Completion: 200}})
	dir := t.TempDir()
	yamlFile := filepath.Join(dir, "llmbridge.yaml")
	// 400 × 1 + 600 × 0.5 + 200 × 2 = 1100 µ$ per answer.
	if err := os.WriteFile(yamlFile, []byte("prices:\n  openai/gpt-4o-mini: {input: 1, cached_input: 0.5, output: 2}\n"+
		"cache:\n  ttl: 1h\n  models: [\"openai/*\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{
		"LLMBRIDGE_ADDR=127.0.0.1:0", "ACCESS_API_KEYS=" + keyA, "LLMBRIDGE_ADMIN_KEY=" + canaryAdmin, "LLMBRIDGE_CONFIG=" + yamlFile,
		"LLMBRIDGE_DEMO=false", "LLMBRIDGE_DISCOVER_LOCAL=false", "OPENAI_API_KEY=sk-upstream-test", "OPENAI_BASE_URL=" + oa.BaseURL(),
	}
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			env := append(slices.Clone(base), "LLMBRIDGE_LOG_FILE="+filepath.Join(t.TempDir(), "r.log"))
			switch store {
			case "sqlite":
				env = append(env, "LLMBRIDGE_DB="+filepath.Join(t.TempDir(), "llmbridge.db"))
			case "postgres":
				env = append(env, "LLMBRIDGE_DATABASE_URL="+pgtest.URL(t))
			}
			in := startServer(t, env)
			send := func(stream bool) string {
				t.Helper()
				req, _ := http.NewRequest("POST", "http://"+in.addr+"/v1/chat/completions", strings.NewReader(fmt.Sprintf(
					`{"model":"openai/gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"cache me"}],"stream":%v}`, stream)))
				req.Header.Set("Authorization", "Bearer "+keyA)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("%d %s", resp.StatusCode, b)
				}
				return resp.Header.Get("X-Cache")
			}
			// A miss, then the same request answered twice from the cache
			// (the second time replayed as a stream).
			for i, c := range []struct {
				stream bool
				want   string
			}{{false, "MISS"}, {false, "HIT"}, {true, "HIT"}} {
				if got := send(c.stream); got != c.want {
					t.Fatalf("request %d: X-Cache %q, want %s", i, got, c.want)
				}
			}
			if got := in.chat(t, keyA, "openai/gpt-4o-mini", false); got != 200 { // temperature absent: not cached
				t.Fatalf("uncached request: %d", got)
			}

			const query = "/admin/api/usage?from=2000-01-01&to=2100-01-01&group_by=model"
			var rep struct {
				Rows   []map[string]any `json:"rows"`
				Totals map[string]any   `json:"totals"`
			}
			var body string
			for deadline := time.Now().Add(10 * time.Second); ; {
				var status int
				status, body = in.do(t, "GET", query, canaryAdmin, "")
				if status != 200 || json.Unmarshal([]byte(body), &rep) != nil {
					t.Fatalf("%d %s", status, body)
				}
				if rep.Totals["requests"] == 4.0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			tot := rep.Totals
			if tot["requests"] != 4.0 || tot["cache_hits"] != 2.0 || math.Abs(tot["saved_usd"].(float64)-0.0022) > 1e-12 ||
				math.Abs(tot["cost_usd"].(float64)-0.0022) > 1e-12 || tot["prompt_tokens"] != 2000.0 {
				t.Fatalf("totals %v", tot)
			}
			if len(rep.Rows) != 1 || rep.Rows[0]["cache_hits"] != 2.0 || rep.Rows[0]["saved_usd"] != tot["saved_usd"] {
				t.Fatalf("rows %v", rep.Rows)
			}
			status, page := in.do(t, "GET", "/admin/api/requests?limit=10", canaryAdmin, "")
			if status != 200 || strings.Count(page, `"cache":"hit"`) != 2 || strings.Count(page, `"cache":"miss"`) != 1 ||
				strings.Count(page, `"saved_usd":0.0011`) != 2 {
				t.Fatalf("requests %d: %s", status, page)
			}
			status, csv := in.do(t, "GET", query+"&format=csv", canaryAdmin, "")
			if status != 200 || !strings.HasSuffix(strings.SplitN(csv, "\n", 2)[0], ",cache_hits,saved_usd") ||
				!strings.Contains(csv, "\nopenai/gpt-4o-mini,4,0,2000,400,1200,0,0,0.0022,0,2,0.0022\n") {
				t.Fatalf("csv %d:\n%s", status, csv)
			}
			in.stop()

			var out bytes.Buffer
			if err := run(context.Background(), runOptions{args: []string{"usage", "--from", "2000-01-01", "--to", "2100-01-01", "--group-by", "model", "--format", "json"},
				envFile: filepath.Join(t.TempDir(), ".env"), environ: env, stdout: &out, stderr: io.Discard}); err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(out.String()) != strings.TrimSpace(body) {
				t.Errorf("usage --format json differs from the API:\n%s\n%s", out.String(), body)
			}
		})
	}
}
