package sso

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/admin"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The test users: an admin by email, a viewer by group, a member by
// group mapped to a team, and someone outside the allowed groups.
// (zitadel leaves email_verified out when it is false: the unverified
// case is TestIDTokenChecks'.)
var opUsers = []testupstream.OPUser{
	{ID: "u-admin", Username: "alice", Password: "pw-alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"staff"}},
	{ID: "u-viewer", Username: "victor", Password: "pw-victor", Email: "victor@example.com", EmailVerified: true, Groups: []string{"staff", "auditors"}},
	{ID: "u-member", Username: "mia", Password: "pw-mia", Email: "mia@example.com", EmailVerified: true, Groups: []string{"staff", "ml-team"}},
	{ID: "u-out", Username: "oscar", Password: "pw-oscar", Email: "oscar@example.com", EmailVerified: true, Groups: []string{"contractors"}},
}

// bridge is the part of the admin UI the flow needs: /start begins a
// sign-in, the callback answers the principal as JSON (or the error).
type bridge struct {
	*httptest.Server
	c    *Client
	logs *strings.Builder
}

func newBridge(t *testing.T, op *testupstream.OP, mod func(*Config), now ...func() time.Time) *bridge {
	t.Helper()
	cfg := Config{Issuer: op.Issuer, ClientID: op.ClientID, ClientSecret: op.ClientSecret, Scopes: "openid email profile groups",
		Admins: []string{"ALICE@example.com"}, Viewers: []string{"auditors"}, AllowedGroups: []string{"staff"}, Teams: "ml-team=ml,other=x"}
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	b := &bridge{logs: &strings.Builder{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		if err := b.c.Start(w, r, "/admin/keys"); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
	})
	mux.HandleFunc(CallbackPath, func(w http.ResponseWriter, r *http.Request) {
		p, next, err := b.c.Finish(w, r)
		if err != nil {
			status := http.StatusBadRequest
			var ref *Refusal
			if errors.As(err, &ref) {
				status = http.StatusForbidden
			}
			http.Error(w, err.Error(), status)
			return
		}
		w.Header().Set("X-Next", next)
		_ = json.NewEncoder(w).Encode(p)
	})
	b.Server = httptest.NewServer(mux)
	t.Cleanup(b.Close)
	o := Options{Secret: []byte("test secret"), Logger: slog.New(slog.NewTextHandler(b.logs, nil))}
	if len(now) > 0 {
		o.Now = now[0]
	}
	b.c = New(cfg, o)
	op.AllowRedirect(b.URL + CallbackPath)
	return b
}

// browser is a cookie jar that follows redirects, except to the bridge's
// callback when stopAtCallback is set.
func browser(stopAtCallback bool) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if stopAtCallback && r.URL.Path == CallbackPath {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// signIn starts a sign-in at b in c and logs in at the OP as user; it
// returns the final response (the callback's answer, or the redirect to
// it when c stops there).
func signIn(t *testing.T, c *http.Client, b *bridge, user, password string) *http.Response {
	t.Helper()
	resp, err := c.Get(b.URL + "/start")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `id="username"`) {
		t.Fatalf("the OP's login form: %d %s", resp.StatusCode, body)
	}
	id := regexpValue(string(body), `name="id" value="`)
	resp, err = c.PostForm(resp.Request.URL.Scheme+"://"+resp.Request.URL.Host+"/login/username",
		url.Values{"id": {id}, "username": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func regexpValue(s, prefix string) string {
	_, rest, _ := strings.Cut(s, prefix)
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func principalOf(t *testing.T, resp *http.Response) (admin.Principal, int, string) {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var p admin.Principal
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
	}
	return p, resp.StatusCode, string(body)
}

// TestSignInAtARealOP signs each test user in through a real OpenID
// Provider: roles by email (any case) and group, the team by the group
// mapping, a refusal for a user outside the allowed groups — and no token, code or secret in the log.
func TestSignInAtARealOP(t *testing.T) {
	op := testupstream.NewOP(t, opUsers...)
	b := newBridge(t, op, nil)
	for _, tc := range []struct {
		user, pw string
		status   int
		want     admin.Principal
		refusal  string
	}{
		{"alice", "pw-alice", 200, admin.Principal{Role: admin.RoleAdmin, Via: "sso", Subject: "u-admin", Email: "alice@example.com"}, ""},
		{"victor", "pw-victor", 200, admin.Principal{Role: admin.RoleViewer, Via: "sso", Subject: "u-viewer", Email: "victor@example.com"}, ""},
		{"mia", "pw-mia", 200, admin.Principal{Role: admin.RoleMember, Via: "sso", Subject: "u-member", Email: "mia@example.com", Team: "ml"}, ""},
		{"oscar", "pw-oscar", 403, admin.Principal{}, "not in a group allowed"},
	} {
		t.Run(tc.user, func(t *testing.T) {
			resp := signIn(t, browser(false), b, tc.user, tc.pw)
			next := resp.Header.Get("X-Next")
			p, status, body := principalOf(t, resp)
			if status != tc.status || p != tc.want || !strings.Contains(body, tc.refusal) {
				t.Fatalf("got %d %+v %q, want %d %+v %q", status, p, body, tc.status, tc.want, tc.refusal)
			}
			if status == 200 && next != "/admin/keys" {
				t.Errorf("next = %q", next)
			}
		})
	}
	if strings.Contains(b.logs.String(), op.ClientSecret) || strings.Contains(b.logs.String(), "eyJ") {
		t.Errorf("the log holds a secret or a token:\n%s", b.logs)
	}
}

// callbackURL signs user in up to the redirect back to the bridge, and
// returns that URL (the browser c holds the state cookie).
func callbackURL(t *testing.T, c *http.Client, b *bridge, user, pw string) string {
	t.Helper()
	resp := signIn(t, c, b, user, pw)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, b.URL+CallbackPath+"?") {
		t.Fatalf("no redirect to the callback: %d %q", resp.StatusCode, loc)
	}
	return loc
}

func get(t *testing.T, c *http.Client, u string, cookies ...*http.Cookie) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func stateCookie(t *testing.T, c *http.Client, b *bridge) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(b.URL + "/admin/oidc/")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == StateCookie {
			return ck
		}
	}
	t.Fatal("no state cookie")
	return nil
}

// TestCallbackAttacks: a callback is refused — before any code is
// exchanged — without this browser's state cookie, with another state,
// with another browser's state cookie, with a tampered cookie, with a
// huge query; a state and a code are used once.
func TestCallbackAttacks(t *testing.T) {
	op := testupstream.NewOP(t, opUsers...)
	b := newBridge(t, op, nil)
	refused := func(t *testing.T, status int, body, want string) {
		t.Helper()
		if status != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Fatalf("got %d %q, want 400 saying %q", status, body, want)
		}
	}
	t.Run("no state cookie", func(t *testing.T) {
		cb := callbackURL(t, browser(true), b, "alice", "pw-alice")
		before := op.Exchanges.Load()
		status, body := get(t, browser(true), cb)
		refused(t, status, body, "state cookie is missing")
		if op.Exchanges.Load() != before {
			t.Error("the code was exchanged")
		}
	})
	t.Run("wrong state", func(t *testing.T) {
		c := browser(true)
		cb := callbackURL(t, c, b, "alice", "pw-alice")
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set("state", q.Get("state")+"x")
		u.RawQuery = q.Encode()
		status, body := get(t, c, u.String())
		refused(t, status, body, "not this browser's sign-in")
	})
	t.Run("another browser's state cookie", func(t *testing.T) {
		victim, attacker := browser(true), browser(true)
		cb := callbackURL(t, attacker, b, "oscar", "pw-oscar") // the attacker's code, to log the victim in as someone else
		_ = callbackURL(t, victim, b, "alice", "pw-alice")     // the victim has a sign-in of their own going
		before := op.Exchanges.Load()
		status, body := get(t, victim, cb)
		refused(t, status, body, "not this browser's sign-in")
		if op.Exchanges.Load() != before {
			t.Error("the code was exchanged")
		}
	})
	t.Run("tampered state cookie", func(t *testing.T) {
		c := browser(true)
		cb := callbackURL(t, c, b, "alice", "pw-alice")
		ck := stateCookie(t, c, b)
		v := []byte(ck.Value)
		v[len(v)/2] ^= 1
		status, body := get(t, browser(true), cb, &http.Cookie{Name: StateCookie, Value: string(v)})
		refused(t, status, body, "does not open")
	})
	t.Run("huge query", func(t *testing.T) {
		c := browser(true)
		cb := callbackURL(t, c, b, "alice", "pw-alice")
		status, body := get(t, c, cb+"&pad="+strings.Repeat("A", 64<<10))
		refused(t, status, body, "too long")
	})
	t.Run("provider error", func(t *testing.T) {
		status, body := get(t, browser(true), b.URL+CallbackPath+"?error=access_denied&error_description="+url.QueryEscape("no\r\nway"))
		refused(t, status, body, "access_denied no  way")
	})
	t.Run("replayed state and code", func(t *testing.T) {
		c := browser(true)
		cb := callbackURL(t, c, b, "alice", "pw-alice")
		ck := stateCookie(t, c, b)
		if status, body := get(t, c, cb); status != 200 {
			t.Fatalf("first use: %d %s", status, body)
		}
		// The same callback with the same state cookie, put back.
		status, body := get(t, browser(true), cb, ck)
		refused(t, status, body, "completed already")
		// The used code with a new sign-in's state: the OP refuses it.
		c2 := browser(true)
		cb2, _ := url.Parse(callbackURL(t, c2, b, "alice", "pw-alice"))
		old, _ := url.Parse(cb)
		q := cb2.Query()
		q.Set("code", old.Query().Get("code"))
		cb2.RawQuery = q.Encode()
		status, body = get(t, c2, cb2.String())
		refused(t, status, body, "code exchange failed")
	})
}

// TestStateCookieExpires: a sign-in that takes over ten minutes at the
// provider is refused.
func TestStateCookieExpires(t *testing.T) {
	op := testupstream.NewOP(t, opUsers...)
	var skew atomic.Int64
	b := newBridge(t, op, nil, func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })
	c := browser(true)
	cb := callbackURL(t, c, b, "alice", "pw-alice")
	skew.Store(int64(stateTTL + time.Second))
	status, body := get(t, c, cb)
	if status != http.StatusBadRequest || !strings.Contains(body, "over 10 minutes") {
		t.Fatalf("%d %s", status, body)
	}
}
