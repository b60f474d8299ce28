package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/llmbridge/llmbridge/internal/pgtest"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

const (
	ssoAdminKey  = "canary-sso-admin-key-4141"
	ssoSecretKey = "canary-sso-secret-key-0123456789abcdef"
)

// ssoUsers: an admin by email, a viewer by group, a member by a group
// mapped to a team, and someone outside the allowed groups.
var ssoUsers = []testupstream.OPUser{
	{ID: "u-alice", Username: "alice", Password: "pw-alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"staff"}},
	{ID: "u-victor", Username: "victor", Password: "pw-victor", Email: "victor@example.com", EmailVerified: true, Groups: []string{"staff", "auditors"}},
	{ID: "u-mia", Username: "mia", Password: "pw-mia", Email: "mia@example.com", EmailVerified: true, Groups: []string{"staff", "ml-team"}},
	{ID: "u-oscar", Username: "oscar", Password: "pw-oscar", Email: "oscar@example.com", EmailVerified: true, Groups: []string{"contractors"}},
}

// ssoEnv is the configuration of a bridge signing in at op; replicas
// share it (and the store, db).
func ssoEnv(op *testupstream.OP, db string) []string {
	return []string{"LLMBRIDGE_ADDR=127.0.0.1:0", "ACCESS_API_KEYS=sk-sso-access", "LLMBRIDGE_ADMIN_KEY=" + ssoAdminKey, db,
		"LLMBRIDGE_SECRET_KEY=" + ssoSecretKey, "LLMBRIDGE_DEMO=true", "LLMBRIDGE_DISCOVER_LOCAL=false",
		"LLMBRIDGE_OIDC_ISSUER=" + op.Issuer, "LLMBRIDGE_OIDC_CLIENT_ID=" + op.ClientID, "LLMBRIDGE_OIDC_CLIENT_SECRET=" + op.ClientSecret,
		"LLMBRIDGE_OIDC_NAME=Test IdP", "LLMBRIDGE_OIDC_SCOPES=openid email profile groups", "LLMBRIDGE_OIDC_ADMINS=alice@example.com",
		"LLMBRIDGE_OIDC_VIEWERS=auditors", "LLMBRIDGE_OIDC_ALLOWED_GROUPS=staff", "LLMBRIDGE_OIDC_TEAMS=ml-team=ml"}
}

// adminSession signs in to in with the admin key and returns the session
// cookie.
func adminSession(t *testing.T, in *instance) *http.Cookie {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm("http://"+in.addr+"/admin/login", url.Values{"key": {ssoAdminKey}, "next": {"/admin/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == "llmbridge_admin" && ck.Value != "" {
			return ck
		}
	}
	t.Fatalf("sign-in set no session cookie: %d", resp.StatusCode)
	return nil
}

// withCookie sends a request to in with the session cookie (and CSRF
// token, for a change) and returns the status.
func withCookie(t *testing.T, in *instance, ck *http.Cookie, method, path, csrf, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+in.addr+path, strings.NewReader(body))
	req.AddCookie(ck)
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// csrfOf reads the CSRF token from a signed-in page of in.
func csrfOf(t *testing.T, in *instance, ck *http.Cookie) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+in.addr+"/admin/keys", nil)
	req.AddCookie(ck)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	_, rest, _ := strings.Cut(string(b), `name="csrf-token" content="`)
	tok, _, _ := strings.Cut(rest, `"`)
	if tok == "" {
		t.Fatal("no CSRF token on the page")
	}
	return tok
}

// TestSessionsEndWhenSSOSettingsChange: a session seals its role, so a
// server started with other sign-in settings (someone taken out of
// LLMBRIDGE_OIDC_ADMINS, SSO turned off) does not open it; the same
// settings do.
func TestSessionsEndWhenSSOSettingsChange(t *testing.T) {
	op := testupstream.NewOP(t, ssoUsers...)
	db := func() string { return "LLMBRIDGE_DB=" + filepath.Join(t.TempDir(), "u.db") }
	a := startServer(t, ssoEnv(op, db()))
	ck := adminSession(t, a)
	same := startServer(t, ssoEnv(op, db()))
	if got := withCookie(t, same, ck, "GET", "/admin/api/keys", "", ""); got != 200 {
		t.Fatalf("the same settings: %d", got)
	}
	fewer := ssoEnv(op, db())
	for i, kv := range fewer {
		if strings.HasPrefix(kv, "LLMBRIDGE_OIDC_ADMINS=") {
			fewer[i] = "LLMBRIDGE_OIDC_ADMINS=someone-else@example.com"
		}
	}
	var off []string
	for _, kv := range ssoEnv(op, db()) {
		if !strings.HasPrefix(kv, "LLMBRIDGE_OIDC_") {
			off = append(off, kv)
		}
	}
	for name, env := range map[string][]string{"other admins": fewer, "SSO off": off} {
		if got := withCookie(t, startServer(t, env), ck, "GET", "/admin/api/keys", "", ""); got != 401 {
			t.Errorf("%s: the old session still opens: %d", name, got)
		}
	}
}

// TestSessionsAcrossReplicas: two replicas with the same configuration
// and store accept one session cookie (and its CSRF token) without
// sticky sessions; signing out on one ends it on both; a tampered
// cookie opens on neither.
func TestSessionsAcrossReplicas(t *testing.T) {
	op := testupstream.NewOP(t, ssoUsers...)
	env := ssoEnv(op, "LLMBRIDGE_DATABASE_URL="+pgtest.URL(t))
	a, b := startServer(t, env), startServer(t, env)
	ck := adminSession(t, a)
	csrf := csrfOf(t, a, ck)
	for _, in := range []*instance{a, b} {
		if got := withCookie(t, in, ck, "GET", "/admin/api/keys", "", ""); got != 200 {
			t.Fatalf("replica %s: GET with the session: %d", in.addr, got)
		}
		if got := withCookie(t, in, ck, "POST", "/admin/api/keys", csrf, `{"name":"k-`+in.addr+`"}`); got != 201 {
			t.Fatalf("replica %s: POST with the session and its CSRF token: %d", in.addr, got)
		}
		if got := withCookie(t, in, ck, "POST", "/admin/api/keys", "", `{"name":"x"}`); got != 401 {
			t.Fatalf("replica %s: POST without the CSRF token: %d", in.addr, got)
		}
	}
	bad := *ck
	bad.Value = ck.Value[:len(ck.Value)-2] + "AA"
	if got := withCookie(t, b, &bad, "GET", "/admin/api/keys", "", ""); got != 401 {
		t.Errorf("a tampered cookie: %d", got)
	}
	// Sign out on b: the cookie, copied before, opens on neither.
	req, _ := http.NewRequest(http.MethodPost, "http://"+b.addr+"/admin/logout", strings.NewReader("csrf="+url.QueryEscape(csrf)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(ck)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	for _, in := range []*instance{a, b} {
		if got := withCookie(t, in, ck, "GET", "/admin/api/keys", "", ""); got != 401 {
			t.Errorf("replica %s: the signed-out cookie still works: %d", in.addr, got)
		}
	}
	// The admin key as a Bearer token keeps working for automation.
	if got, _ := b.do(t, "GET", "/admin/api/keys", ssoAdminKey, ""); got != 200 {
		t.Errorf("the admin key: %d", got)
	}
}

// TestSSOInChromium signs four people in through a real OpenID Provider
// in headless Chromium, on one replica, and checks what each may do — in
// the UI and the API — on the other: the admin everything, the viewer
// nothing that changes, the member only their own keys, the outsider
// nothing at all. The audit log names them.
func TestSSOInChromium(t *testing.T) {
	exe := chromiumPath(t)
	op := testupstream.NewOP(t, ssoUsers...)
	env := ssoEnv(op, "LLMBRIDGE_DB="+filepath.Join(t.TempDir(), "u.db"))
	in := startServer(t, env)
	base := "http://" + in.addr
	op.AllowRedirect(base + "/admin/oidc/callback")
	// The team mia's group maps to: a member's keys are made in it.
	if code, body := in.do(t, "POST", "/admin/api/teams", ssoAdminKey, `{"name":"ml","monthly_budget_usd":50}`); code != http.StatusCreated {
		t.Fatalf("creating team ml: %d %s", code, body)
	}

	signIn := func(t *testing.T, user, pw string, landing string) tab {
		t.Helper()
		// The OP's login page asks for /favicon.ico (404); a refused call
		// is a console error the tests below make on purpose.
		w := &browserWatch{allow: func(u string) bool {
			return strings.HasPrefix(u, op.Issuer) || strings.Contains(u, "/admin/api/")
		}}
		ctx := browser(t, exe, w)
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/"), chromedp.WaitVisible(chromedp.CSS(`#sso`))); err != nil {
			t.Fatalf("sign-in page: %v\n%s", err, in.console)
		}
		label := value(t, ctx, "button", chromedp.Evaluate[string](`document.querySelector('#sso').textContent`))
		if label != "Sign in with Test IdP" {
			t.Errorf("the button says %q", label)
		}
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, chromedp.Click(chromedp.CSS(`#sso`)), chromedp.WaitVisible(chromedp.CSS(`#username`)),
			chromedp.SendKeys(chromedp.CSS(`#username`), user), chromedp.SendKeys(chromedp.CSS(`#password`), pw),
			chromedp.Click(chromedp.CSS(`#login`)), chromedp.WaitVisible(chromedp.CSS(landing))); err != nil {
			where, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.documentElement.outerHTML`))
			t.Fatalf("%s signing in: %v\nthe browser is at %s\n%s", user, err, where, in.console)
		}
		return tab{ctx, w}
	}
	// api calls the admin API from the page, with the session's CSRF
	// token, and returns the status.
	api := func(t *testing.T, c tab, method, path, body string) int {
		t.Helper()
		js := `fetch(` + jsString(path) + `, {method: ` + jsString(method) + `, headers: {'Content-Type': 'application/json',
			'X-CSRF-Token': document.querySelector('meta[name="csrf-token"]').content}` + map[bool]string{true: `, body: ` + jsString(body), false: ``}[body != ""] + `}).then(r => r.status)`
		return int(value(t, c.ctx, method+" "+path, chromedp.Evaluate[float64](js, chromedp.EvalAwaitPromise)))
	}

	t.Run("admin", func(t *testing.T) {
		c := signIn(t, "alice", "pw-alice", `#live-table`)
		if who := value(t, c.ctx, "who", chromedp.Evaluate[string](`document.querySelector('#who').textContent`)); !strings.Contains(who, "alice@example.com") || !strings.Contains(who, "admin") {
			t.Errorf("signed in as %q", who)
		}
		res, err := chromedp.Call(c.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/admin/", base + "/admin/oidc/callback", base + "/admin/oidc/complete"}})
		if err != nil || len(res.Cookies) != 1 {
			t.Fatalf("cookies %v %v", res, err)
		}
		for _, ck := range res.Cookies {
			if ck.Name == "llmbridge_admin" && (ck.SameSite != network.CookieSameSiteStrict || !ck.HTTPOnly || ck.Path != "/admin/") {
				t.Errorf("session cookie %+v", ck)
			}
			if ck.Name == "llmbridge_oidc" || ck.Name == "llmbridge_handoff" {
				t.Errorf("the %s cookie outlived the sign-in", ck.Name)
			}
		}
		if got := api(t, c, "PUT", "/admin/api/prices/demo/x", `{"input":1,"output":2}`); got != 200 {
			t.Errorf("admin PUT a price: %d", got)
		}
		c.w.check(t)
	})
	t.Run("viewer", func(t *testing.T) {
		c := signIn(t, "victor", "pw-victor", `#live-table`)
		if err := chromedp.Do(c.ctx, chromedp.Navigate(base+"/admin/keys"), chromedp.WaitReady(chromedp.CSS(`#keys-table`))); err != nil {
			t.Fatal(err)
		}
		for _, sel := range []string{`#key-form`, `#save-key`} {
			if visible := value(t, c.ctx, sel, chromedp.Evaluate[bool](`document.querySelector('`+sel+`').offsetParent !== null`)); visible {
				t.Errorf("the viewer sees %s", sel)
			}
		}
		for _, w := range []struct{ method, path, body string }{{"POST", "/admin/api/keys", `{"name":"v"}`}, {"PUT", "/admin/api/prices/demo/x", `{"input":1,"output":2}`},
			{"DELETE", "/admin/api/cache", ""}, {"POST", "/admin/api/providers", `{"name":"p"}`}} {
			if got := api(t, c, w.method, w.path, w.body); got != 403 {
				t.Errorf("viewer %s %s: %d, want 403", w.method, w.path, got)
			}
		}
		if got := api(t, c, "GET", "/admin/api/usage", ""); got != 200 {
			t.Errorf("viewer GET usage: %d", got)
		}
		c.w.check(t)
	})
	t.Run("member", func(t *testing.T) {
		c := signIn(t, "mia", "pw-mia", `#keys-table`)
		nav := value(t, c.ctx, "nav", chromedp.Evaluate[string](`document.querySelector('nav').textContent`))
		if strings.TrimSpace(nav) != "Keys" {
			t.Errorf("the member's navigation: %q", nav)
		}
		if err := chromedp.Do(c.ctx, chromedp.SendKeys(chromedp.CSS(`#k-name`), "mia's key"), chromedp.Click(chromedp.CSS(`#save-key`)),
			chromedp.WaitVisible(chromedp.CSS(`#secret-box`))); err != nil {
			t.Fatalf("creating a key: %v", err)
		}
		if err := chromedp.Do(c.ctx, chromedp.Navigate(base+"/admin/usage"), chromedp.WaitVisible(chromedp.CSS(`#keys-table`))); err != nil {
			t.Errorf("the usage page did not send the member back to Keys: %v", err)
		}
		if got := api(t, c, "GET", "/admin/api/usage", ""); got != 403 {
			t.Errorf("member GET usage: %d", got)
		}
		c.w.check(t)
		_, body := in.do(t, "GET", "/admin/api/keys", ssoAdminKey, "")
		if !strings.Contains(body, `"owner":"mia@example.com"`) || !strings.Contains(body, `"team":"ml"`) {
			t.Errorf("the member's key is not theirs, in their team: %s", body)
		}
	})
	t.Run("outsider", func(t *testing.T) {
		c := signIn(t, "oscar", "pw-oscar", `#signin-error`)
		msg := value(t, c.ctx, "error", chromedp.Evaluate[string](`document.querySelector('#signin-error').textContent`))
		if !strings.Contains(msg, "not in a group allowed") {
			t.Errorf("the outsider sees %q", msg)
		}
		if got := api(t, c, "GET", "/admin/api/keys", ""); got != 401 {
			t.Errorf("the outsider reads keys: %d", got)
		}
	})
	if log := in.console.String(); strings.Contains(log, op.ClientSecret) || strings.Contains(log, "eyJ") || strings.Contains(log, "code=") {
		t.Errorf("the server log holds the client secret, a token or a code:\n%s", log)
	}
	_, body := in.do(t, "GET", "/admin/api/audit?limit=100", ssoAdminKey, "")
	var audit struct {
		Entries []struct{ Actor, Action string }
	}
	_ = json.Unmarshal([]byte(body), &audit)
	seen := map[string]bool{}
	for _, e := range audit.Entries {
		seen[e.Actor+" "+e.Action] = true
	}
	for _, want := range []string{"alice@example.com (sso) signin", "alice@example.com (sso) price.put", "mia@example.com (sso) key.create"} {
		if !seen[want] {
			t.Errorf("the audit log lacks %q: %s", want, body)
		}
	}
}

// tab is a browser tab and its watch.
type tab struct {
	ctx context.Context
	w   *browserWatch
}

// TestSSOConfig: the OIDC settings load from the environment and are
// checked with the rest, every problem at once.
func TestSSOConfig(t *testing.T) {
	c, err := loadConfig(map[string]string{"LLMBRIDGE_OIDC_ISSUER": "https://idp.example", "LLMBRIDGE_OIDC_CLIENT_ID": "bridge",
		"LLMBRIDGE_OIDC_ADMINS": "a@example.com, admins", "LLMBRIDGE_OIDC_TEAMS": "ml-eng=ml", "LLMBRIDGE_PUBLIC_URL": "https://llm.example.com"})
	if err != nil || !c.SSO.On() || c.SSO.Name != "SSO" || c.SSO.GroupsClaim != "groups" || len(c.SSO.Admins) != 2 || c.SSO.Admins[1] != "admins" {
		t.Fatalf("%+v %v", c.SSO, err)
	}
	_, err = loadConfig(map[string]string{"LLMBRIDGE_ADDR": "0.0.0.0:1219", "ACCESS_API_KEYS": "sk-a", "LLMBRIDGE_OIDC_ISSUER": "http://idp.example",
		"LLMBRIDGE_OIDC_TEAMS": "nope", "LLMBRIDGE_RETRIES": "-1"})
	for _, want := range []string{"want an https:// URL", "LLMBRIDGE_OIDC_CLIENT_ID is required", "not group=team", "needs LLMBRIDGE_ADMIN_KEY", "LLMBRIDGE_RETRIES"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
}
