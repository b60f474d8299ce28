package ui

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/admin"
)

// fakeSignOn signs in whoever the callback's "who" names; "refused" is a
// refusal, "broken" a broken flow. It returns the next page the callback's
// "next" names, unchecked, as a forged state could.
type fakeSignOn struct{ started string }

func (f *fakeSignOn) Name() string { return "Acme <SSO>" }
func (f *fakeSignOn) Start(w http.ResponseWriter, r *http.Request, next string) error {
	f.started = next
	http.Redirect(w, r, "https://idp.example/authorize", http.StatusFound)
	return nil
}

type refusal struct{}

func (refusal) Error() string { return "not in a group allowed" }
func (refusal) Refused() bool { return true }

func (f *fakeSignOn) Finish(w http.ResponseWriter, r *http.Request) (admin.Principal, string, error) {
	switch who := r.URL.Query().Get("who"); who {
	case "refused":
		return admin.Principal{}, "", refusal{}
	case "broken":
		return admin.Principal{}, "", errors.New("the state cookie does not open")
	case "mia":
		return admin.Principal{Role: admin.RoleMember, Via: "sso", Subject: "m", Email: "mia@example.com"}, r.URL.Query().Get("next"), nil
	default:
		return admin.Principal{Role: admin.RoleViewer, Via: "sso", Subject: "v", Email: "v@example.com"}, r.URL.Query().Get("next"), nil
	}
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestSingleSignOnSteps: the button shows only when single sign-on is
// on (its name escaped); the callback sets no session cookie but a Lax
// handoff cookie for the same-site step, which sets the Strict session
// cookie — refused cross-site; next never leaves the UI.
func TestSingleSignOnSteps(t *testing.T) {
	f := newFixture(t, false)
	c := f.client(t)
	if _, body := do(t, c, "GET", f.srv.URL+"/admin/", nil, nil); strings.Contains(body, `id="sso"`) {
		t.Error("an SSO button while single sign-on is off")
	}
	if resp, _ := do(t, c, "GET", f.srv.URL+"/admin/oidc/login", nil, nil); resp.StatusCode != 404 {
		t.Errorf("/admin/oidc/login while off: %d", resp.StatusCode)
	}
	so := &fakeSignOn{}
	f.h.SetSignOn(so)
	if _, body := do(t, c, "GET", f.srv.URL+"/admin/usage", nil, nil); !strings.Contains(body, `href="/admin/oidc/login?next=%2fadmin%2fusage">Sign in with Acme &lt;SSO&gt;</a>`) {
		t.Errorf("no SSO button:\n%s", body)
	}
	for next, want := range map[string]string{"/admin/keys": "/admin/keys", "//evil.example/x": "/admin/", "https://evil.example": "/admin/", "/admin/../x": "/admin/"} {
		if resp, _ := do(t, c, "GET", f.srv.URL+"/admin/oidc/login?next="+next, nil, nil); resp.StatusCode != 302 || so.started != want {
			t.Errorf("start with next %q: %d, Start got %q", next, resp.StatusCode, so.started)
		}
	}
	resp, body := do(t, c, "GET", f.srv.URL+"/admin/oidc/callback?who=v&next=https://evil.example", nil, map[string]string{"Sec-Fetch-Site": "cross-site"})
	hand := cookieNamed(resp, handoffName)
	if resp.StatusCode != 200 || cookieNamed(resp, CookieName) != nil || hand == nil || hand.SameSite != http.SameSiteLaxMode || !hand.HttpOnly ||
		hand.Path != completePath || hand.MaxAge != 60 || !strings.Contains(body, `<meta http-equiv="refresh" content="0;url=/admin/oidc/complete">`) {
		t.Fatalf("callback: %d %v\n%s", resp.StatusCode, resp.Cookies(), body)
	}
	if strings.Contains(body, "<script") {
		t.Error("the handoff page has a script")
	}
	// Another site cannot complete the sign-in in this browser.
	// (f.client shares one *http.Client and swaps its jar: a plain one.)
	fresh := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r2, _ := do(t, fresh, "GET", f.srv.URL+completePath, nil, map[string]string{"Sec-Fetch-Site": "cross-site", "Cookie": handoffName + "=" + hand.Value})
	if r2.StatusCode != 400 || cookieNamed(r2, CookieName) != nil {
		t.Errorf("cross-site complete: %d %v", r2.StatusCode, r2.Cookies())
	}
	resp, body = do(t, c, "GET", f.srv.URL+completePath, nil, map[string]string{"Sec-Fetch-Site": "same-origin"})
	sess := cookieNamed(resp, CookieName)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/admin/" || sess == nil || sess.SameSite != http.SameSiteStrictMode || !sess.HttpOnly {
		t.Fatalf("complete: %d %q %v\n%s", resp.StatusCode, resp.Header.Get("Location"), resp.Cookies(), body)
	}
	if _, body := do(t, c, "GET", f.srv.URL+"/admin/keys", nil, nil); !strings.Contains(body, `data-role="viewer"`) || !strings.Contains(body, "v@example.com") {
		t.Errorf("the viewer's page:\n%s", body)
	}
	// A tampered handoff, none, a refusal, a broken flow.
	for _, tc := range []struct {
		path, cookie string
		status       int
		says         string
	}{
		{completePath, handoffName + "=" + hand.Value[:len(hand.Value)-3] + "AAA", 400, "could not be completed"},
		{completePath, "", 400, "could not be completed"},
		{"/admin/oidc/callback?who=refused", "", 403, "Sign-in refused: not in a group allowed"},
		{"/admin/oidc/callback?who=broken", "", 400, "Single sign-on failed: the state cookie does not open"},
	} {
		resp, body := do(t, fresh, "GET", f.srv.URL+tc.path, nil, map[string]string{"Cookie": tc.cookie})
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.says) || cookieNamed(resp, CookieName) != nil {
			t.Errorf("%s: %d, want %d saying %q\n%s", tc.path, resp.StatusCode, tc.status, tc.says, body)
		}
	}
}

// TestMembersSeeOnlyKeys: a member's navigation has Keys only, every
// other page sends them to Keys, and the live feed refuses them.
func TestMembersSeeOnlyKeys(t *testing.T) {
	f := newFixture(t, false)
	f.h.SetSignOn(&fakeSignOn{})
	c := f.client(t)
	do(t, c, "GET", f.srv.URL+"/admin/oidc/callback?who=mia&next=/admin/usage", nil, nil)
	resp, _ := do(t, c, "GET", f.srv.URL+completePath, nil, nil)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/admin/keys" {
		t.Fatalf("complete: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, p := range []string{"/admin/", "/admin/usage", "/admin/status", "/admin/audit"} {
		if resp, _ := do(t, c, "GET", f.srv.URL+p, nil, nil); resp.StatusCode != 303 || resp.Header.Get("Location") != "/admin/keys" {
			t.Errorf("%s: %d %q", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	_, body := do(t, c, "GET", f.srv.URL+"/admin/keys", nil, nil)
	if strings.Count(body, "<li><a href=") != 1 || !strings.Contains(body, `data-role="member"`) {
		t.Errorf("the member's Keys page:\n%s", body)
	}
	feed := httptest.NewRequest("GET", "/admin/api/live", nil)
	for _, ck := range c.Jar.Cookies(mustURL(f.srv.URL + "/admin/")) {
		feed.AddCookie(ck)
	}
	if _, ok := f.h.Principal(feed); !ok {
		t.Fatal("the member's session does not open")
	}
	if _, _, ok := f.h.Session(feed); ok {
		t.Error("a member opens the live feed")
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// sharedRevocations stand for the store the replicas share.
type sharedRevocations struct{ memoryRevocations }

// TestSessionsAreSharedByReplicasWithTheSameSecret: a cookie one handler
// made opens on another with the same secret and admin key (no sticky
// sessions), not with another secret; a sign-out on one ends the other's
// live feed once it next asks the shared revocations.
func TestSessionsAreSharedByReplicasWithTheSameSecret(t *testing.T) {
	rev := &sharedRevocations{memoryRevocations{m: map[string]time.Time{}, now: time.Now}}
	replica := func(secret string) *Handler {
		h := New(Options{Logger: slog.New(slog.DiscardHandler), Revocations: rev})
		h.SetSessionSecret([]byte(secret))
		h.Configure(adminKey, nil)
		h.sessions.poll = 10 * time.Millisecond
		return h
	}
	a, b, other := replica("the secret"), replica("the secret"), replica("another secret")
	value, _ := a.sessions.create(admin.Principal{Role: admin.RoleAdmin, Via: "ui session"})
	feed := httptest.NewRequest(http.MethodGet, "/admin/api/live", nil)
	feed.AddCookie(&http.Cookie{Name: CookieName, Value: value})
	if _, ok := other.Principal(feed); ok {
		t.Fatal("a replica with another secret opens the cookie")
	}
	ctx, cancel, ok := b.Session(feed)
	if !ok {
		t.Fatal("the other replica does not open the cookie")
	}
	defer cancel()
	out := httptest.NewRequest(http.MethodPost, "/admin/logout", nil)
	out.AddCookie(&http.Cookie{Name: CookieName, Value: value})
	if err := a.sessions.end(out); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the live feed on the other replica outlived the sign-out")
	}
	if _, ok := b.Principal(feed); ok {
		t.Error("the signed-out cookie still opens on the other replica")
	}
}
