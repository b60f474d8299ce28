package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/admin/ui"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// The security tests of issue 24 whose cause is in the server's wiring:
// /metrics under a foreign Host (DNS rebinding), a live feed outliving
// the session that opened it, and Redis's error on /healthz.

const (
	secAdminKey   = "canary-sec-admin-key-0001"
	secAdminKey2  = "canary-sec-admin-key-0002"
	secAccessKey  = "canary-sec-access-key-0003"
	secEndTimeout = 5 * time.Second // far below the feed's 15 s keep-alive
)

// getHost GETs url with the Host header set to host ("" keeps the URL's)
// and an optional bearer token.
func getHost(t *testing.T, url, host, token string) (int, string) {
	t.Helper()
	return doWith(t, http.MethodGet, url, host, token, "")
}

// TestMetricsRefuseForeignHost is item 10: a web page on evil.example whose
// name re-resolves to 127.0.0.1 makes the browser a loopback client, but
// its requests say "Host: evil.example"; without a token /metrics is not
// served to them, on the main listener nor on a loopback listener of its
// own. With the token any Host works.
func TestMetricsRefuseForeignHost(t *testing.T) {
	t.Run("main listener", func(t *testing.T) {
		addr, _ := startObserved(t)
		_, port, _ := strings.Cut(addr, ":")
		for host, want := range map[string]int{"": 200, "localhost:" + port: 200, "evil.example:" + port: 403, "evil.example": 403} {
			code, body := getHost(t, "http://"+addr+"/metrics", host, "")
			if code != want || want == 403 && strings.Contains(body, "llmbridge_") {
				t.Errorf("Host %q: %d, want %d", host, code, want)
			}
		}
	})
	t.Run("main listener with the token", func(t *testing.T) {
		addr, _ := startObserved(t, "LLMBRIDGE_METRICS_TOKEN="+canaryMetrics)
		if code, _ := getHost(t, "http://"+addr+"/metrics", "evil.example", canaryMetrics); code != 200 {
			t.Errorf("token under a foreign Host: %d", code)
		}
		if code, _ := getHost(t, "http://"+addr+"/metrics", "evil.example", ""); code != 401 {
			t.Errorf("no token under a foreign Host: %d", code)
		}
	})
	t.Run("own loopback listener", func(t *testing.T) {
		_, console := startObserved(t, "LLMBRIDGE_METRICS_ADDR=127.0.0.1:0")
		m := metricsAt.FindStringSubmatch(console.String())
		if m == nil {
			t.Fatalf("no metrics listener in the log:\n%s", console)
		}
		if code, _ := getHost(t, m[1], "", ""); code != 200 {
			t.Errorf("loopback Host: %d", code)
		}
		if code, _ := getHost(t, m[1], "evil.example", ""); code != 403 {
			t.Errorf("foreign Host: %d", code)
		}
	})
}

// startReloadable runs the server on envFile and env until the test ends,
// and returns its address and a func that reloads it (SIGHUP: a changed
// .env is not waited for, nor missed when written before the server
// watches the file).
func startReloadable(t *testing.T, envFile string, env ...string) (addr string, reload func()) {
	t.Helper()
	dir := t.TempDir()
	console := &lockedBuffer{}
	addrc := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	hup := make(chan os.Signal, 1)
	env = append([]string{"LLMBRIDGE_ADDR=127.0.0.1:0", "LLMBRIDGE_LOG_FILE=" + filepath.Join(dir, "requests.log"), "LLMBRIDGE_DB=off",
		"LLMBRIDGE_DEMO=false", "LLMBRIDGE_DISCOVER_LOCAL=false"}, env...)
	go func() {
		done <- run(ctx, runOptions{envFile: envFile, environ: env, stderr: console, stdout: io.Discard,
			ready: func(a string) { addrc <- a }, reload: hup, poll: time.Hour})
	}()
	select {
	case addr = <-addrc:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server: %v", err)
			}
			if t.Failed() {
				t.Logf("console:\n%s", console)
			}
		})
		return addr, func() { hup <- syscall.SIGHUP }
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v\n%s", err, console)
	}
	return "", nil
}

// browserClient keeps cookies and does not follow redirects.
func browserClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfToken = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

// signIn signs c in to the admin UI and returns the session's CSRF token.
func signIn(t *testing.T, c *http.Client, base, key string) string {
	t.Helper()
	resp, err := c.PostForm(base+"/admin/login", url.Values{"key": {key}, "next": {"/admin/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 || resp.Cookies()[0].Name != ui.CookieName {
		t.Fatalf("sign-in: %d %v", resp.StatusCode, resp.Cookies())
	}
	resp, err = c.Get(base + "/admin/live")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfToken.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the Live page:\n%s", page)
	}
	return string(m[1])
}

// openFeed opens /admin/api/live with c's cookies or the bearer key and
// reads its ": connected" comment.
func openFeed(t *testing.T, c *http.Client, base, bearer string) io.ReadCloser {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/admin/api/live", nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		t.Fatalf("live feed: %d", resp.StatusCode)
	}
	t.Cleanup(func() { resp.Body.Close() })
	buf := make([]byte, len(": connected\n\n"))
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != ": connected\n\n" {
		t.Fatalf("feed opened with %q %v", buf, err)
	}
	return resp.Body
}

// waitEnd fails the test unless body ends within secEndTimeout. On
// failure it closes body, which ends the reader.
func waitEnd(t *testing.T, body io.ReadCloser, what string) {
	t.Helper()
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, body)
		ended <- err
	}()
	select {
	case err := <-ended:
		if err != nil {
			t.Logf("feed ended with %v", err)
		}
	case <-time.After(secEndTimeout):
		body.Close()
		<-ended
		t.Fatalf("the live feed still streams %v after %s", secEndTimeout, what)
	}
}

// TestLiveFeedEndsWithItsSession is item 12: a live feed opened by an
// admin UI session ends when that session does — sign-out, or a changed
// admin key — and one opened with the admin key ends when the key
// changes; the session (or the old key) then opens no new feed.
func TestLiveFeedEndsWithItsSession(t *testing.T) {
	signOut := func(t *testing.T, c *http.Client, base, csrf string, _ func()) {
		resp, err := c.PostForm(base+"/admin/logout", url.Values{"csrf": {csrf}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-out: %d", resp.StatusCode)
		}
	}
	rotate := func(_ *testing.T, _ *http.Client, _, _ string, rotateKey func()) { rotateKey() }
	for _, tc := range []struct {
		name   string
		bearer bool
		end    func(t *testing.T, c *http.Client, base, csrf string, rotateKey func())
	}{
		{"sign-out", false, signOut},
		{"admin key change", false, rotate},
		{"admin key change, bearer feed", true, rotate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			envFile := filepath.Join(t.TempDir(), ".env")
			if err := os.WriteFile(envFile, []byte("LLMBRIDGE_ADMIN_KEY="+secAdminKey+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			addr, reload := startReloadable(t, envFile)
			base := "http://" + addr
			rotateKey := func() {
				if err := os.WriteFile(envFile, []byte("LLMBRIDGE_ADMIN_KEY="+secAdminKey2+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				reload()
			}
			c := browserClient()
			var csrf, bearer string
			if tc.bearer {
				bearer = secAdminKey
			} else {
				csrf = signIn(t, c, base, secAdminKey)
			}
			feed := openFeed(t, c, base, bearer)
			tc.end(t, c, base, csrf, rotateKey)
			waitEnd(t, feed, tc.name)
			req, _ := http.NewRequest(http.MethodGet, base+"/admin/api/live", nil)
			if bearer != "" {
				req.Header.Set("Authorization", "Bearer "+bearer)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("a new feed after %s: %d", tc.name, resp.StatusCode)
			}
		})
	}
}

// TestHealthzSaysOnlyUnreachable is item 13: with Redis down the
// unauthenticated /healthz says the limits are per instance because
// Redis is unreachable, and nothing of Redis's error (its address, the
// dial error); the admin health page has the whole reason.
func TestHealthzSaysOnlyUnreachable(t *testing.T) {
	up := testupstream.New(t, testupstream.OpenAI)
	dead := testupstream.DeadAddr(t)
	yaml := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(yaml, []byte("keys:\n  - key_id: "+llmbridge.KeyID(secAccessKey)+"\n    rpm: 100\n"), 0o600)
	addr, console := startObserved(t, "ACCESS_API_KEYS="+secAccessKey, "LLMBRIDGE_ADMIN_KEY="+secAdminKey, "LLMBRIDGE_CONFIG="+yaml,
		"LLMBRIDGE_REDIS_URL=redis://"+dead+"/0", "OPENAI_API_KEY="+up.Key, "OPENAI_BASE_URL="+up.BaseURL())
	base := "http://" + addr
	// A request with limits asks Redis, which fails: per-instance limits.
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+secAccessKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("chat with Redis down: %d", resp.StatusCode)
	}
	code, health := getHost(t, base+"/healthz", "", "")
	if code != 200 || !strings.Contains(health, `"limits":"per-instance"`) || !strings.Contains(health, `"limits_reason":"Redis unreachable"`) {
		t.Errorf("healthz: %d %s", code, health)
	}
	host, port, _ := strings.Cut(dead, ":")
	for _, leak := range []string{host, port, "dial", "refused", "tcp"} {
		if strings.Contains(health, leak) {
			t.Errorf("healthz shows %q: %s", leak, health)
		}
	}
	if !strings.Contains(console.String(), dead) {
		t.Errorf("the server log lacks Redis's error:\n%s", console)
	}
	code, page := getHost(t, base+"/admin/api/health", "", secAdminKey)
	if code != 200 || !strings.Contains(page, `"limits":{"mode":"per-instance","reason":"Redis unreachable: `) || !strings.Contains(page, dead) {
		t.Errorf("admin health: %d %s", code, page)
	}
}
