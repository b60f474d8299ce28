package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// doWith sends method url with body (JSON when set), the Host header host
// ("" keeps the URL's) and the bearer key.
func doWith(t *testing.T, method, u, host, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if host != "" {
		req.Host = host
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
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

// Issue 24, item 7: wrong keys anywhere — the admin API, /metrics, the
// model API — count against the source in one throttle; past the free
// allowance the source gets 429 auth_throttled everywhere, even with the
// right key, before its key is looked at.
func TestFailedKeysAreThrottledEverywhere(t *testing.T) {
	up := testupstream.New(t, testupstream.OpenAI)
	addr, _ := startObserved(t, "ACCESS_API_KEYS="+secAccessKey, "LLMBRIDGE_ADMIN_KEY="+secAdminKey, "LLMBRIDGE_METRICS_TOKEN=canary-metrics-token-0004",
		"OPENAI_API_KEY="+up.Key, "OPENAI_BASE_URL="+up.BaseURL())
	base := "http://" + addr
	chat := `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`
	if st, body := doWith(t, "POST", base+"/v1/chat/completions", "", secAccessKey, chat); st != 200 {
		t.Fatalf("before: %d %s", st, body)
	}
	for i := range 4 {
		if st, _ := doWith(t, "GET", base+"/admin/api/usage", "", "wrong-admin-key", ""); st != 401 {
			t.Fatalf("wrong admin key %d: %d", i, st)
		}
		if st, _ := doWith(t, "GET", base+"/metrics", "", "wrong-metrics-token", ""); st != 401 {
			t.Fatalf("wrong metrics token %d: %d", i, st)
		}
	}
	for i := range 3 {
		if st, _ := doWith(t, "POST", base+"/v1/chat/completions", "", "wrong-access-key", chat); st != 401 {
			t.Fatalf("wrong access key %d: %d", i, st)
		}
	}
	// 11 failures: the allowance (10) is spent, the source waits.
	for _, tc := range []struct{ method, path, key, body string }{
		{"GET", "/admin/api/usage", secAdminKey, ""},
		{"GET", "/metrics", "canary-metrics-token-0004", ""},
		{"POST", "/v1/chat/completions", secAccessKey, chat},
		{"GET", "/v1/models", secAccessKey, ""},
	} {
		st, body := doWith(t, tc.method, base+tc.path, "", tc.key, tc.body)
		if st != http.StatusTooManyRequests || !strings.Contains(body, "auth_throttled") {
			t.Errorf("%s with the right key from a throttled source: %d %s", tc.path, st, body)
		}
	}
	if n := len(up.Requests()) - up.ModelListRequests(); n != 1 {
		t.Errorf("%d requests upstream, want the first one only", n)
	}
}

// Sign-ins refused for a wrong admin key count too (the UI answers them
// with a redirect, not a 401).
func TestWrongSignInsAreThrottled(t *testing.T) {
	addr, _ := startObserved(t, "ACCESS_API_KEYS="+secAccessKey, "LLMBRIDGE_ADMIN_KEY="+secAdminKey)
	base := "http://" + addr
	c := browserClient()
	signin := func(key string) int {
		resp, err := c.PostForm(base+"/admin/login", url.Values{"key": {key}, "next": {"/admin/"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 11 {
		if st := signin("guess-" + string(rune('a'+i))); st != http.StatusSeeOther {
			t.Fatalf("guess %d: %d", i, st)
		}
	}
	if st := signin(secAdminKey); st != http.StatusTooManyRequests {
		t.Errorf("the right key after 11 wrong sign-ins: %d, want 429", st)
	}
}

// Issue 24, item 4: without access keys the model API answers only
// requests that name a loopback host; a page whose name re-resolves to
// 127.0.0.1 (DNS rebinding) names its own host and gets 403
// host_not_allowed in its format, with nothing sent upstream.
func TestOpenModeServesOnlyLoopbackHosts(t *testing.T) {
	up := testupstream.New(t, testupstream.OpenAI)
	addr, _ := startObserved(t, "OPENAI_API_KEY="+up.Key, "OPENAI_BASE_URL="+up.BaseURL())
	base := "http://" + addr
	_, port, _ := strings.Cut(addr, ":")
	chat := `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`
	msgs := `{"model":"openai/gpt-4o","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`
	for _, host := range []string{"evil.example:" + port, "evil.example", "app.localhost:" + port, "127.0.0.1.evil.example"} {
		st, body := doWith(t, "POST", base+"/v1/chat/completions", host, "", chat)
		if st != http.StatusForbidden || !strings.Contains(body, "host_not_allowed") {
			t.Errorf("Host %s: %d %s", host, st, body)
		}
		if st, body := doWith(t, "POST", base+"/v1/messages", host, "", msgs); st != http.StatusForbidden || !strings.Contains(body, `"type":"error"`) {
			t.Errorf("Messages, Host %s: %d %s", host, st, body)
		}
		if st, _ := doWith(t, "GET", base+"/v1/models", host, "", ""); st != http.StatusForbidden {
			t.Errorf("models, Host %s: %d", host, st)
		}
	}
	if n := len(up.Requests()) - up.ModelListRequests(); n != 0 { // the bridge's own list fetches aside
		t.Fatalf("%d requests reached the upstream from foreign Hosts", n)
	}
	for _, host := range []string{"", "localhost:" + port, "LOCALHOST", "[::1]:" + port} {
		if st, body := doWith(t, "POST", base+"/v1/chat/completions", host, "", chat); st != 200 {
			t.Errorf("Host %q: %d %s", host, st, body)
		}
	}
}
