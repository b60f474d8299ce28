package ui

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/admin"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	adminKey  = "canary-ui-admin-key-1234"
	accessKey = "sk-canary-access-5678"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// fixture is the UI and the admin API mounted as the server mounts them.
type fixture struct {
	h    *Handler
	srv  *httptest.Server
	logs *syncBuf
	now  time.Time
	mu   sync.Mutex
}

func newFixture(t *testing.T, tls bool) *fixture {
	t.Helper()
	f := &fixture{logs: &syncBuf{}, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	f.h = New(Options{Logger: slog.New(slog.NewTextHandler(f.logs, nil)), Version: "v-test", Now: f.clock,
		Models: func() []string { return []string{"openai/gpt-4o", "gemini/gemini-2.0-flash-exp", "openai/o1"} },
		Store:  func() string { return "data/usage.db" }, RequestLogDropped: func() int64 { return 3 }})
	f.h.Configure(adminKey, map[string]string{"LLMBRIDGE_ADMIN_KEY": adminKey, "ACCESS_API_KEYS": accessKey,
		"LLMBRIDGE_PROXY": "socks5h://u:pw-secret@proxy.example:1080", "GEMINI_USE_PROXY": "true"})
	api := admin.NewAPI(nil, adminKey).SetSession(f.h.Principal)
	mux := http.NewServeMux()
	mux.Handle("/admin/api/", api)
	mux.Handle("/admin/", f.h)
	mux.Handle("/admin", f.h)
	if tls {
		f.srv = httptest.NewTLSServer(mux)
	} else {
		f.srv = httptest.NewServer(mux)
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// client is a browser-like client: a cookie jar, no redirects followed.
func (f *fixture) client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := f.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func do(t *testing.T, c *http.Client, method, url string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (f *fixture) signIn(t *testing.T, c *http.Client, key string) *http.Response {
	t.Helper()
	resp, _ := do(t, c, http.MethodPost, f.srv.URL+"/admin/login", strings.NewReader(url.Values{"key": {key}, "next": {"/admin/keys"}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": f.srv.URL})
	return resp
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`)

// csrf reads the CSRF token from a signed-in page.
func (f *fixture) csrf(t *testing.T, c *http.Client) string {
	t.Helper()
	_, body := do(t, c, http.MethodGet, f.srv.URL+"/admin/live", nil, nil)
	m := csrfMeta.FindStringSubmatch(body)
	if m == nil || m[1] == "" {
		t.Fatalf("no CSRF token on the Live page:\n%s", body)
	}
	return m[1]
}

func TestSignedOutEveryPageIsTheSignInForm(t *testing.T) {
	f := newFixture(t, false)
	c := f.client(t)
	for _, p := range []string{"/admin/", "/admin/live", "/admin/usage", "/admin/keys", "/admin/nope"} {
		resp, body := do(t, c, http.MethodGet, f.srv.URL+p, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d, want 200", p, resp.StatusCode)
		}
		if !strings.Contains(body, `<input id="key" name="key" type="password"`) || !strings.Contains(body, `<form method="post" action="/admin/login"`) {
			t.Errorf("%s: no sign-in form with a password field:\n%s", p, body)
		}
		if strings.Contains(body, "Sign out") || strings.Contains(body, "/admin/static/live.js") {
			t.Errorf("%s: a signed-out page shows signed-in parts", p)
		}
		for k, v := range SecurityHeaders {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", p, k, got, v)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("CSP %q", csp)
		}
	}
	if resp, _ := do(t, c, http.MethodGet, f.srv.URL+"/admin", nil, nil); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/admin/" {
		t.Errorf("/admin: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestWrongKeysAreRefusedAndLoggedWithoutTheKey(t *testing.T) {
	f := newFixture(t, false)
	c := f.client(t)
	for _, key := range []string{"wrong-key-canary-9999", accessKey, ""} {
		resp := f.signIn(t, c, key)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/admin/login?failed=1&next=%2Fadmin%2Fkeys" {
			t.Errorf("key %q: status %d → %q, want 303 back to the form", key, resp.StatusCode, loc)
		}
		if len(resp.Cookies()) != 0 {
			t.Errorf("key %q: a cookie was set", key)
		}
		resp, body := do(t, c, http.MethodGet, f.srv.URL+resp.Header.Get("Location"), nil, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="signin-error">That is not the admin key`) ||
			!strings.Contains(body, `name="next" value="/admin/keys"`) {
			t.Errorf("the form after a refusal: %d\n%s", resp.StatusCode, body)
		}
		if _, body := do(t, c, http.MethodGet, f.srv.URL+"/admin/keys", nil, nil); !strings.Contains(body, `type="password"`) {
			t.Errorf("key %q opened the UI", key)
		}
	}
	logs := f.logs.String()
	if n := strings.Count(logs, "admin UI sign-in refused"); n != 3 {
		t.Errorf("%d refusals logged, want 3:\n%s", n, logs)
	}
	for _, secret := range []string{"wrong-key-canary-9999", accessKey, adminKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
	// The access key opens neither the UI nor the API.
	if resp, _ := do(t, c, http.MethodGet, f.srv.URL+"/admin/api/keys", nil, map[string]string{"Authorization": "Bearer " + accessKey}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("admin API with an access key: %d", resp.StatusCode)
	}
}

func TestSignInSetsAStrictHttpOnlyExpiringCookie(t *testing.T) {
	for _, tls := range []bool{false, true} {
		f := newFixture(t, tls)
		c := f.client(t)
		resp := f.signIn(t, c, adminKey)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/keys" {
			t.Fatalf("tls=%v: sign-in %d → %q", tls, resp.StatusCode, resp.Header.Get("Location"))
		}
		cs := resp.Cookies()
		if len(cs) != 1 {
			t.Fatalf("cookies %v", cs)
		}
		ck := cs[0]
		if ck.Name != CookieName || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure != tls || ck.Path != "/admin/" ||
			ck.MaxAge != int(DefaultSessionTTL/time.Second) || len(ck.Value) < 40 {
			t.Errorf("tls=%v: cookie %+v", tls, ck)
		}
		if strings.Contains(f.logs.String(), adminKey) {
			t.Error("the admin key was logged")
		}
	}
	// Behind a TLS-terminating proxy (LLMBRIDGE_PUBLIC_URL https://) the
	// cookie is Secure although the bridge itself speaks plain HTTP.
	f := newFixture(t, false)
	f.h.opts.SecureCookies = true
	resp := f.signIn(t, f.client(t), adminKey)
	if cs := resp.Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Errorf("behind a TLS proxy: cookies %+v, want one Secure", cs)
	}
}

func TestSignInFromAnotherSiteIsRefused(t *testing.T) {
	f := newFixture(t, false)
	for _, tc := range []struct {
		hdr  map[string]string
		want int
	}{
		{map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "null"}, http.StatusForbidden},
		{map[string]string{"Sec-Fetch-Site": "same-site", "Origin": f.srv.URL}, http.StatusForbidden},
		{map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"}, http.StatusSeeOther}, // Chromium under no-referrer
		{map[string]string{"Origin": f.srv.URL}, http.StatusSeeOther},
		{map[string]string{}, http.StatusSeeOther},
	} {
		tc.hdr["Content-Type"] = "application/x-www-form-urlencoded"
		resp, _ := do(t, f.client(t), http.MethodPost, f.srv.URL+"/admin/login", strings.NewReader("key="+adminKey), tc.hdr)
		if resp.StatusCode != tc.want || (tc.want == http.StatusForbidden) != (len(resp.Cookies()) == 0) {
			t.Errorf("%v: %d, cookies %v; want %d", tc.hdr, resp.StatusCode, resp.Cookies(), tc.want)
		}
	}
}

func TestTheAdminAPITakesTheSessionAndDemandsCSRFToChange(t *testing.T) {
	f := newFixture(t, false)
	c := f.client(t)
	// Signed out: 401.
	if resp, _ := do(t, c, http.MethodGet, f.srv.URL+"/admin/api/keys", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("signed out: %d", resp.StatusCode)
	}
	f.signIn(t, c, adminKey)
	token := f.csrf(t, c)
	// The store is off in this fixture, so an authorized call gets past
	// authentication to the 503 that says so.
	const past = http.StatusServiceUnavailable
	for _, tc := range []struct {
		method, token string
		want          int
	}{
		{http.MethodGet, "", past},
		{http.MethodPost, "", http.StatusUnauthorized},
		{http.MethodPost, "wrong", http.StatusUnauthorized},
		{http.MethodPost, token, past},
		{http.MethodDelete, "", http.StatusUnauthorized},
		{http.MethodPatch, token + "x", http.StatusUnauthorized},
	} {
		hdr := map[string]string{}
		if tc.token != "" {
			hdr[CSRFHeader] = tc.token
		}
		if resp, body := do(t, c, tc.method, f.srv.URL+"/admin/api/keys", strings.NewReader(`{"name":"x"}`), hdr); resp.StatusCode != tc.want {
			t.Errorf("%s with token %q: %d, want %d: %s", tc.method, tc.token, resp.StatusCode, tc.want, body)
		}
	}
}

func TestSignOutEndsTheSessionAndNeedsTheToken(t *testing.T) {
	f := newFixture(t, false)
	c := f.client(t)
	f.signIn(t, c, adminKey)
	token := f.csrf(t, c)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	if resp, _ := do(t, c, http.MethodPost, f.srv.URL+"/admin/logout", strings.NewReader("csrf=wrong"), form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out without the token: %d", resp.StatusCode)
	}
	if resp, _ := do(t, c, http.MethodGet, f.srv.URL+"/admin/api/keys", nil, nil); resp.StatusCode == http.StatusUnauthorized {
		t.Fatal("a refused sign-out ended the session")
	}
	resp, _ := do(t, c, http.MethodPost, f.srv.URL+"/admin/logout", strings.NewReader("csrf="+token), form)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("sign-out: %d, cookies %+v", resp.StatusCode, resp.Cookies())
	}
	if resp, _ := do(t, c, http.MethodGet, f.srv.URL+"/admin/api/keys", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after sign-out the API answers %d", resp.StatusCode)
	}
	if _, body := do(t, c, http.MethodGet, f.srv.URL+"/admin/live", nil, nil); !strings.Contains(body, `type="password"`) {
		t.Error("after sign-out the Live page is not the sign-in form")
	}
}

func TestSessionsExpireAndEndWhenTheAdminKeyChanges(t *testing.T) {
	f := newFixture(t, false)
	c := f.client(t)
	authorized := func() bool {
		resp, _ := do(t, c, http.MethodGet, f.srv.URL+"/admin/api/keys", nil, nil)
		return resp.StatusCode != http.StatusUnauthorized
	}
	f.signIn(t, c, adminKey)
	f.advance(DefaultSessionTTL - time.Second)
	if !authorized() {
		t.Fatal("session ended before its time")
	}
	f.advance(time.Second)
	if authorized() {
		t.Error("session outlived its TTL")
	}
	f.signIn(t, c, adminKey)
	f.h.Configure(adminKey, nil) // same key: sessions stay
	if !authorized() {
		t.Error("re-configuring with the same key ended the session")
	}
	f.h.Configure("a-new-admin-key", nil)
	if authorized() {
		t.Error("the session outlived a changed admin key")
	}
	f.h.Configure("", nil)
	if resp, _ := do(t, c, http.MethodGet, f.srv.URL+"/admin/", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("UI off: %d, want 404", resp.StatusCode)
	}
}

// TestSessionContextEndsWithTheSession: the context Session gives a
// long response (the live feed) ends when its session does — sign-out, a
// changed admin key, expiry — or when the request does; the same key
// configured again keeps it.
func TestSessionContextEndsWithTheSession(t *testing.T) {
	serve := func(h *Handler, r *http.Request) *http.Response {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Result()
	}
	// signIn returns a GET of the live feed carrying a new session's
	// cookie, and the session's CSRF token.
	signIn := func(t *testing.T, h *Handler) (*http.Request, string) {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/admin/login", strings.NewReader("key="+adminKey))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		cookies := serve(h, r).Cookies()
		if len(cookies) != 1 {
			t.Fatalf("sign-in set %v", cookies)
		}
		page := httptest.NewRequest(http.MethodGet, "/admin/live", nil)
		page.AddCookie(cookies[0])
		body, _ := io.ReadAll(serve(h, page).Body)
		m := csrfMeta.FindSubmatch(body)
		if m == nil {
			t.Fatal("no CSRF token")
		}
		feed := httptest.NewRequest(http.MethodGet, "/admin/api/live", nil)
		feed.AddCookie(cookies[0])
		return feed, string(m[1])
	}
	open := func(t *testing.T, h *Handler, r *http.Request) context.Context {
		t.Helper()
		ctx, cancel, ok := h.Session(r)
		if !ok {
			t.Fatal("the session is not authorized")
		}
		t.Cleanup(cancel)
		if ctx.Err() != nil {
			t.Fatal("the context ended at once")
		}
		return ctx
	}
	ends := func(t *testing.T, ctx context.Context, what string) {
		t.Helper()
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("the session's context outlived %s", what)
		}
	}
	newHandler := func(ttl time.Duration) *Handler {
		h := New(Options{Logger: slog.New(slog.DiscardHandler), SessionTTL: ttl})
		h.Configure(adminKey, nil)
		return h
	}

	t.Run("sign-out", func(t *testing.T) {
		h := newHandler(0)
		feed, csrf := signIn(t, h)
		ctx := open(t, h, feed)
		out := httptest.NewRequest(http.MethodPost, "/admin/logout", strings.NewReader("csrf="+csrf))
		out.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		out.AddCookie(feed.Cookies()[0])
		if resp := serve(h, out); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-out: %d", resp.StatusCode)
		}
		ends(t, ctx, "sign-out")
		if _, _, ok := h.Session(feed); ok {
			t.Error("authorized after sign-out")
		}
	})
	t.Run("admin key change", func(t *testing.T) {
		h := newHandler(0)
		feed, _ := signIn(t, h)
		ctx := open(t, h, feed)
		other, _ := signIn(t, h)
		otherCtx := open(t, h, other)
		h.Configure(adminKey, map[string]string{"X": "y"}) // the same key: sessions stay
		if ctx.Err() != nil || otherCtx.Err() != nil {
			t.Fatal("re-configuring with the same key ended a session")
		}
		h.Configure("a-new-admin-key-0123456789", nil)
		ends(t, ctx, "a changed admin key")
		ends(t, otherCtx, "a changed admin key")
	})
	t.Run("expiry", func(t *testing.T) {
		h := newHandler(50 * time.Millisecond)
		feed, _ := signIn(t, h)
		ends(t, open(t, h, feed), "its TTL") // no request comes to notice it
	})
	t.Run("request ends", func(t *testing.T) {
		h := newHandler(0)
		feed, _ := signIn(t, h)
		rctx, cancel := context.WithCancel(context.Background())
		ctx := open(t, h, feed.WithContext(rctx))
		cancel()
		ends(t, ctx, "its request")
	})
	t.Run("not authorized", func(t *testing.T) {
		h := newHandler(0)
		if _, _, ok := h.Session(httptest.NewRequest(http.MethodGet, "/admin/api/live", nil)); ok {
			t.Error("authorized without a cookie")
		}
		feed, _ := signIn(t, h)
		post := httptest.NewRequest(http.MethodPost, "/admin/api/live", nil)
		post.AddCookie(feed.Cookies()[0])
		if _, _, ok := h.Session(post); ok {
			t.Error("a POST without the CSRF token is authorized")
		}
	})
}

func TestSignedInPagesHaveNavigationSignOutAndNoInlineCode(t *testing.T) {
	f := newFixture(t, false)
	c := f.client(t)
	f.signIn(t, c, adminKey)
	inline := regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]|<script>|\sstyle=|\son[a-z]+=`)
	for _, name := range pageNames() {
		resp, body := do(t, c, http.MethodGet, f.srv.URL+"/admin/"+name, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", name, resp.StatusCode)
		}
		for _, n := range pageNames() {
			if !strings.Contains(body, `<a href="/admin/`+n+`"`) {
				t.Errorf("%s: no link to /admin/%s", name, n)
			}
		}
		if !strings.Contains(body, `aria-current="page">`+escaped(pageTitles[name])) {
			t.Errorf("%s: the navigation does not mark it current", name)
		}
		if !strings.Contains(body, ">Sign out</button>") || !strings.Contains(body, `<script src="/admin/static/`+name+`.js" defer>`) {
			t.Errorf("%s: no sign-out control or no page script", name)
		}
		if inline.MatchString(body) {
			t.Errorf("%s: inline script or style: %s", name, inline.FindString(body))
		}
	}
	_, body := do(t, c, http.MethodGet, f.srv.URL+"/admin/", nil, nil)
	if !strings.Contains(body, "<h1>Live</h1>") {
		t.Error("/admin/ does not open on Live")
	}
}

// escaped escapes a title as html/template writes it.
func escaped(s string) string { return strings.ReplaceAll(s, "&", "&amp;") }

func TestStatusAndProvidersPagesShowNoSecret(t *testing.T) {
	f := newFixture(t, false)
	c := f.client(t)
	f.signIn(t, c, adminKey)
	_, status := do(t, c, http.MethodGet, f.srv.URL+"/admin/status", nil, nil)
	_, prov := do(t, c, http.MethodGet, f.srv.URL+"/admin/providers", nil, nil)
	for _, secret := range []string{adminKey, accessKey, "pw-secret"} {
		if strings.Contains(status+prov, secret) {
			t.Errorf("a page shows %q", secret)
		}
	}
	for _, want := range []string{"v-test", "data/usage.db", `<dd id="dropped">3</dd>`, "<td>LLMBRIDGE_ADMIN_KEY</td><td>" + Masked + "</td>",
		"socks5h://u:xxxxx@proxy.example:1080"} {
		if !strings.Contains(status, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	for _, want := range []string{`<tr data-provider="gemini"><td>gemini</td><td>proxy.example (socks5h)</td><td><span class="nw">gemini-2.0-flash-exp</span></td></tr>`,
		`<tr data-provider="openai"><td>openai</td><td>direct</td><td><span class="nw">gpt-4o</span>, <span class="nw">o1</span></td></tr>`} {
		if !strings.Contains(prov, want) {
			t.Errorf("providers page lacks %q:\n%s", want, prov)
		}
	}
}

func TestStaticAssetsAreEmbeddedAndServed(t *testing.T) {
	f := newFixture(t, false)
	c := f.client(t) // assets need no session: they hold no data
	for _, name := range append(pageNames(), "common") {
		if _, err := fs.Stat(staticFS, "static/"+name+".js"); err != nil {
			t.Errorf("page script %s.js: %v", name, err)
		}
	}
	for path, ctype := range map[string]string{"app.css": "text/css", "common.js": "text/javascript", "favicon.svg": "image/svg+xml"} {
		resp, body := do(t, c, http.MethodGet, f.srv.URL+"/admin/static/"+path, nil, nil)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || body == "" {
			t.Errorf("%s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: no security headers", path)
		}
	}
	if resp, _ := do(t, c, http.MethodPost, f.srv.URL+"/admin/static/app.css", nil, nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to a static file: %d", resp.StatusCode)
	}
	// Nothing in the assets reaches for another host.
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(staticFS, p)
		for _, m := range regexp.MustCompile(`https?://[^\s'"]+`).FindAllString(string(b), -1) {
			if m != "http://www.w3.org/2000/svg" {
				t.Errorf("%s names another host: %s", p, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
