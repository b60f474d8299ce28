package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/pgtest"
	"github.com/llmbridge/llmbridge/internal/redistest"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

const canaryStored = "sk-canary-stored-provider-8888"

// providerBody is a stored provider of the fake upstream up.
func providerBody(name string, up *testupstream.Server) string {
	return `{"name":"` + name + `","kind":"openai","base_url":"` + up.BaseURL() + `","api_key":"` + canaryStored + `","models":["gpt-4o-mini"]}`
}

// A provider, a route and a price added through the admin API are used
// by the next request, with the start-up's validation messages for a bad
// change; a restart keeps them and the database never holds the key.
func TestStoredConfigurationLive(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "u.db")
	up := testupstream.New(t, testupstream.OpenAI)
	up.Key = canaryStored
	env := []string{"LLMBRIDGE_ADDR=127.0.0.1:0", "LLMBRIDGE_LOG_FILE=" + filepath.Join(dir, "r.log"), "LLMBRIDGE_DB=" + db,
		"LLMBRIDGE_ADMIN_KEY=" + canaryAdmin, "LLMBRIDGE_DISCOVER_LOCAL=false", "LLMBRIDGE_DEMO=false"}
	in := startServer(t, env)
	if code, body := in.do(t, "POST", "/admin/api/providers", canaryAdmin, providerBody("acme", up)); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	if code := in.chat(t, "", "acme/gpt-4o-mini", false); code != 200 {
		t.Fatalf("the new provider is not served at once: %d", code)
	}
	code, body := in.do(t, "PUT", "/admin/api/routes/smart", canaryAdmin, `{"strategy":"ordered","targets":[{"model":"acme/gpt-4o-mini"}]}`)
	if code != 200 || in.chat(t, "", "smart", true) != 200 {
		t.Fatalf("route: %d %s", code, body)
	}
	if code, body := in.do(t, "PUT", "/admin/api/prices/acme/gpt-4o-mini", canaryAdmin, `{"input":0.5,"output":1.5}`); code != 200 {
		t.Fatalf("price: %d %s", code, body)
	}
	// Refused with the start-up's message; the running config stays.
	code, body = in.do(t, "POST", "/admin/api/providers", canaryAdmin, `{"name":"odd","kind":"nope","models":["x"]}`)
	if code != 400 || !strings.Contains(body, `stored configuration: provider 2 (odd): kind \"nope\" is not supported (openai, gemini`) {
		t.Fatalf("bad kind: %d %s", code, body)
	}
	code, body = in.do(t, "PUT", "/admin/api/routes/loop", canaryAdmin, `{"targets":[{"model":"nobody/x"}]}`)
	if code != 400 || !strings.Contains(body, "nobody") {
		t.Fatalf("route to nowhere: %d %s", code, body)
	}
	if in.chat(t, "", "acme/gpt-4o-mini", false) != 200 {
		t.Fatal("a refused change broke the running configuration")
	}
	// Test button: one real call, its latency.
	code, body = in.do(t, "POST", "/admin/api/providers/acme/test", canaryAdmin, "")
	if code != 200 || !strings.Contains(body, `"ok":true`) || !strings.Contains(body, `"latency_ms"`) {
		t.Fatalf("test: %d %s", code, body)
	}
	// An upstream that echoes the key: the Test result never shows it.
	up.Enqueue(testupstream.Reply{Status: 401, ErrorBody: `{"error":{"message":"Incorrect API key provided: ` + canaryStored + `","type":"invalid_request_error","code":"invalid_api_key"}}`})
	code, body = in.do(t, "POST", "/admin/api/providers/acme/test", canaryAdmin, "")
	if code != 200 || !strings.Contains(body, `"ok":false`) || strings.Contains(body, canaryStored) || strings.Contains(body, canaryStored[8:]) {
		t.Fatalf("test with an echoing upstream: %d %s", code, body)
	}
	code, body = in.do(t, "GET", "/admin/api/config", canaryAdmin, "")
	if code != 200 || strings.Contains(body, canaryStored) || !strings.Contains(body, `"source":"store"`) || !strings.Contains(body, `"api_key_last4":"8888"`) {
		t.Fatalf("config: %d %s", code, body)
	}
	code, body = in.do(t, "GET", "/admin/api/audit", canaryAdmin, "")
	for _, a := range []string{"provider.create", "route.put", "price.put", "provider.test"} {
		if !strings.Contains(body, `"`+a+`"`) {
			t.Errorf("audit lacks %s: %d %s", a, code, body)
		}
	}
	if code, _ := in.do(t, "GET", "/admin/api/config", "", ""); code != 401 {
		t.Fatalf("config without the admin key: %d", code)
	}
	in.stop()
	for _, f := range []string{db, db + "-wal", filepath.Join(dir, "r.log")} {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(canaryStored)) {
			t.Fatalf("%s holds the provider key in plain text", f)
		}
	}
	in = startServer(t, env)
	if in.chat(t, "", "smart", false) != 200 {
		t.Fatalf("after a restart the stored route is gone\n%s", in.console)
	}
	if strings.Contains(in.console.String(), canaryStored) {
		t.Fatal("the console log holds the key")
	}
}

// Two replicas sharing PostgreSQL and Redis: a change on one is served by
// the other within 2 s, by a Redis message, and by polling the version
// with Redis down.
func TestStoredConfigurationReplicas(t *testing.T) {
	pg := pgtest.URL(t)
	rd := redistest.Start(t)
	up := testupstream.New(t, testupstream.OpenAI)
	up.Key = canaryStored
	secret := "LLMBRIDGE_SECRET_KEY=" + strings.Repeat("s3cr3t-", 6)
	mk := func() *instance {
		dir := t.TempDir()
		return startServer(t, []string{"LLMBRIDGE_ADDR=127.0.0.1:0", "LLMBRIDGE_LOG_FILE=" + filepath.Join(dir, "r.log"), "LLMBRIDGE_DATABASE_URL=" + pg,
			"LLMBRIDGE_REDIS_URL=" + rd.URL(), "LLMBRIDGE_ADMIN_KEY=" + canaryAdmin, secret, "LLMBRIDGE_DISCOVER_LOCAL=false", "LLMBRIDGE_DEMO=false"})
	}
	a, b := mk(), mk()
	served := func(in *instance, model string) time.Duration {
		start := time.Now()
		for time.Since(start) < 5*time.Second {
			if in.chat(t, "", model, false) == 200 {
				return time.Since(start)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s not served by the other replica after 5 s\n%s", model, in.console)
		return 0
	}
	if code, body := a.do(t, "POST", "/admin/api/providers", canaryAdmin, providerBody("one", up)); code != 201 {
		t.Fatalf("%d %s", code, body)
	}
	d := served(b, "one/gpt-4o-mini")
	t.Logf("over Redis: the other replica served the new provider after %v", d)
	if d > 2*time.Second {
		t.Errorf("over Redis: the other replica served it after %v", d)
	}
	rd.Stop()
	if code, body := a.do(t, "POST", "/admin/api/providers", canaryAdmin, providerBody("two", up)); code != 201 {
		t.Fatalf("%d %s", code, body)
	}
	d = served(b, "two/gpt-4o-mini")
	t.Logf("by polling: the other replica served the new provider after %v", d)
	if d > 2*time.Second {
		t.Errorf("by polling: the other replica served it after %v", d)
	}
	var v struct {
		Providers []struct{ Name, Source string }
	}
	_, body := b.do(t, "GET", "/admin/api/config", canaryAdmin, "")
	if json.Unmarshal([]byte(body), &v); len(v.Providers) != 2 {
		t.Fatalf("replica b's view: %s", body)
	}
}

// Items the environment or the file define are read-only, saying where.
func TestStoredConfigurationReadOnly(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("providers:\n  - name: filed\n    base_url: http://127.0.0.1:1/v1\n    models: [m]\n"), 0o600)
	in := startServer(t, []string{"LLMBRIDGE_ADDR=127.0.0.1:0", "LLMBRIDGE_LOG_FILE=" + filepath.Join(dir, "r.log"), "LLMBRIDGE_DB=" + filepath.Join(dir, "u.db"),
		"LLMBRIDGE_ADMIN_KEY=" + canaryAdmin, "LLMBRIDGE_CONFIG=" + file, "DEEPSEEK_API_KEY=" + canaryDeepSeek, "LLMBRIDGE_DISCOVER_LOCAL=false"})
	code, body := in.do(t, "PUT", "/admin/api/providers/deepseek", canaryAdmin, `{"models":["x"]}`)
	if code != 409 || !strings.Contains(body, "environment") {
		t.Fatalf("env provider: %d %s", code, body)
	}
	code, body = in.do(t, "DELETE", "/admin/api/providers/filed", canaryAdmin, "")
	if code != 409 || !strings.Contains(body, file) {
		t.Fatalf("file provider: %d %s", code, body)
	}
	code, body = in.do(t, "GET", "/admin/api/config", canaryAdmin, "")
	if code != 200 || strings.Contains(body, canaryDeepSeek) || !strings.Contains(body, `"source":"env"`) || !strings.Contains(body, `"source":"file"`) {
		t.Fatalf("config: %d %s", code, body)
	}
}

// On loopback without an admin key the console shows a one-time sign-in
// link: it signs one browser in, and is refused the second time.
func TestFirstRunLink(t *testing.T) {
	dir := t.TempDir()
	in := startServer(t, []string{"LLMBRIDGE_ADDR=127.0.0.1:0", "LLMBRIDGE_LOG_FILE=" + filepath.Join(dir, "r.log"), "LLMBRIDGE_DB=" + filepath.Join(dir, "u.db"),
		"LLMBRIDGE_DISCOVER_LOCAL=false"})
	link := firstRunLink(t, in)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/admin/" {
		t.Fatalf("first use: %d %s", resp.StatusCode, resp.Request.URL)
	}
	resp, err = c.Get("http://" + in.addr + "/admin/api/audit")
	if err != nil {
		t.Fatal(err)
	}
	audit, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(audit), `"actor":"first-run link","action":"signin"`) {
		t.Fatalf("the signed-in browser reads the audit log: %d %s", resp.StatusCode, audit)
	}
	resp, err = http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("second use: %d, want 403", resp.StatusCode)
	}
	_, body := in.do(t, "GET", "/admin/api/audit", "", "")
	if !strings.Contains(body, "authentication") {
		t.Fatalf("the audit log is not open without a session: %s", body)
	}
	// Beyond loopback without an admin key the UI stays off.
	off := startServer(t, []string{"LLMBRIDGE_ADDR=0.0.0.0:0", "ACCESS_API_KEYS=" + canaryAccess, "LLMBRIDGE_LOG_FILE=" + filepath.Join(dir, "r2.log"), "LLMBRIDGE_DB=off"})
	if code, _ := off.do(t, "GET", "/admin/", "", ""); code != 404 || strings.Contains(off.console.String(), "first-run") {
		t.Fatalf("non-loopback: %d\n%s", code, off.console)
	}
}

// firstRunLink finds the one-time link in the console.
func firstRunLink(t *testing.T, in *instance) string {
	t.Helper()
	m := regexp.MustCompile(`http://127\.0\.0\.1:\d+/admin/first-run\?token=[A-Za-z0-9_-]+`).FindString(in.console.String())
	if m == "" {
		t.Fatalf("no one-time link in the console:\n%s", in.console)
	}
	return m
}
