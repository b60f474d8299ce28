package liveconfig

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// M1: the admin API refuses what would read the bridge's environment,
// files or cloud identity.
func TestAdminAPIRefusesHostSecrets(t *testing.T) {
	dsn, keyFile := sqliteDSN(t)
	r := newRig(t, dsn, keyFile)
	for _, c := range []struct{ body, field string }{
		{`{"name":"a","models":["m"],"api_key_env":"OPENAI_API_KEY"}`, "api_key_env"},
		{`{"name":"a","models":["m"],"api_key_envs":["LLMBRIDGE_SECRET_KEY"]}`, "api_key_envs"},
		{`{"name":"az","kind":"azure","base_url":"http://127.0.0.1:18733","models":["gpt-4o"],"entra":{"tenant_id":"t1","client_id":"c1","client_secret_env":"OPENAI_API_KEY","authority":"http://127.0.0.1:18733"}}`, "entra.client_secret_env"},
		{`{"name":"az","kind":"azure","base_url":"http://127.0.0.1:18733","models":["gpt-4o"],"entra":{"tenant_id":"t1","client_id":"c1"}}`, "entra"},
		{`{"name":"v","kind":"vertex","models":["m"],"project":"p","location":"l","credentials_file":"/dev/zero"}`, "credentials_file"},
		{`{"name":"v","kind":"vertex","base_url":"http://127.0.0.1:18733","models":["m"],"project":"p","location":"l"}`, "kind vertex"},
		{`{"name":"b","kind":"bedrock","base_url":"http://127.0.0.1:18733","region":"us-east-1","models":["m"]}`, "api_key"},
	} {
		code, body := r.do(t, "POST", "/admin/api/providers", c.body)
		if code != 400 || !strings.Contains(body, c.field+":") {
			t.Errorf("%s: %d %s, want 400 naming %s", c.body, code, body, c.field)
		}
		// The same through the YAML import.
		code, body = r.do(t, "POST", "/admin/api/config", `{"providers":[`+c.body+`]}`)
		if code != 400 || !strings.Contains(body, c.field+":") {
			t.Errorf("import %s: %d %s, want 400 naming %s", c.body, code, body, c.field)
		}
	}
	if l := r.m.Layer(); len(l.Providers) != 0 {
		t.Fatalf("stored: %+v", l.Providers)
	}
	// A bedrock provider with its own key is fine.
	if code, body := r.do(t, "POST", "/admin/api/providers", `{"name":"b","kind":"bedrock","region":"us-east-1","api_key":"`+plainKey+`","models":["m"]}`); code != 201 {
		t.Fatalf("bedrock with a key: %d %s", code, body)
	}
	// and keeps it on a PUT that leaves base_url alone.
	if code, body := r.do(t, "PUT", "/admin/api/providers/b", `{"kind":"bedrock","region":"us-east-1","models":["m","n"]}`); code != 200 {
		t.Fatalf("bedrock PUT keeping the key: %d %s", code, body)
	}
}

// M2: a change of base_url, proxy or authority needs the secrets again.
func TestStoredSecretsFollowOnlyTheSameDestination(t *testing.T) {
	dsn, keyFile := sqliteDSN(t)
	r := newRig(t, dsn, keyFile)
	create := `{"name":"acme","base_url":"https://api.acme.example/v1","api_key":"` + plainKey + `","models":["m1"],"headers":{"X-Org":"org-secret-hdr"}}`
	if code, body := r.do(t, "POST", "/admin/api/providers", create); code != 201 {
		t.Fatal(code, body)
	}
	for _, c := range []struct{ body, want string }{
		{`{"base_url":"https://evil.example/v1","models":["m1"]}`, "api_key: base_url, proxy or the Entra authority changed"},
		{`{"base_url":"https://api.acme.example/v1","proxy":"http://evil.example:3128","models":["m1"]}`, "api_key: base_url"},
		{`{"base_url":"https://evil.example/v1","api_key":"sk-new-key-0000","models":["m1"],"headers":{"X-Org":""}}`, "send the value of X-Org again"},
	} {
		code, body := r.do(t, "PUT", "/admin/api/providers/acme", c.body)
		if code != 400 || !strings.Contains(body, c.want) {
			t.Errorf("PUT %s: %d %s, want 400 %q", c.body, code, body, c.want)
		}
	}
	code, body := r.do(t, "POST", "/admin/api/config", "providers:\n- name: acme\n  base_url: https://evil.example/v1\n  models: [m1]\n")
	if code != 400 || !strings.Contains(body, "send the key") {
		t.Errorf("import to another host: %d %s", code, body)
	}
	if p := r.m.Layer().Providers[0]; p.BaseURL != "https://api.acme.example/v1" || p.APIKey != plainKey || p.Headers["X-Org"] != "org-secret-hdr" {
		t.Fatalf("changed: %+v", p)
	}
	// Same destination: the omitted key and the blank header are kept.
	if code, body := r.do(t, "PUT", "/admin/api/providers/acme", `{"base_url":"https://api.acme.example/v1","models":["m1","m2"],"headers":{"X-Org":""}}`); code != 200 {
		t.Fatal(code, body)
	}
	if p := r.m.Layer().Providers[0]; p.APIKey != plainKey || p.Headers["X-Org"] != "org-secret-hdr" || len(p.Models) != 2 {
		t.Fatalf("not kept: %+v", p)
	}
	// A new host with the secrets sent again is fine.
	if code, body := r.do(t, "PUT", "/admin/api/providers/acme", `{"base_url":"https://other.example/v1","api_key":"sk-new-key-0000","models":["m1"],"headers":{"X-Org":"v2"}}`); code != 200 {
		t.Fatal(code, body)
	}
}

// L3: a header that is not the admin key, beside a session, is no admin key.
func TestActorIsTheCheckThatSucceeded(t *testing.T) {
	dsn, keyFile := sqliteDSN(t)
	r := newRig(t, dsn, keyFile)
	for _, c := range []struct{ auth, want string }{
		{"Bearer not-the-admin-key", "ui session"},
		{"", "ui session"},
		{"Bearer admin-key-for-tests", "admin key"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		if got := r.m.Actor(req); got != c.want {
			t.Errorf("%q: actor %q, want %q", c.auth, got, c.want)
		}
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Api-Key", "forged")
	if got := (&Manager{}).Actor(req); got == "admin key" {
		t.Errorf("without Options.AdminKey: %q", got)
	}
}

// countingBody counts the bytes read from it.
type countingBody struct {
	r io.Reader
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return nil }

// L4: AuditAdmin reads nothing of a body the wrapped handler refuses
// unread (an unauthenticated request).
func TestAuditAdminReadsNoBodyBeforeAuth(t *testing.T) {
	dsn, keyFile := sqliteDSN(t)
	r := newRig(t, dsn, keyFile)
	h := r.m.AuditAdmin(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.ReadAll(req.Body)
		w.WriteHeader(http.StatusCreated)
	}))
	body := &countingBody{r: strings.NewReader(`{"name":"mallory"}` + strings.Repeat(" ", 100<<10))}
	req := httptest.NewRequest("POST", "/admin/api/keys", nil)
	req.Body = body
	h.ServeHTTP(httptest.NewRecorder(), req)
	if n := body.n.Load(); n != 0 {
		t.Fatalf("read %d bytes of an unauthenticated body", n)
	}
	req = httptest.NewRequest("POST", "/admin/api/keys", strings.NewReader(`{"name":"alice","rpm":5}`))
	req.Header.Set("Authorization", "Bearer admin-key-for-tests")
	h.ServeHTTP(httptest.NewRecorder(), req)
	list, err := r.m.AuditLog(context.Background(), 10, "")
	if err != nil || len(list) != 1 || list[0].Fields["name"] != "alice" || list[0].Actor != "admin key" {
		t.Fatalf("%v %+v", err, list)
	}
}

// L6: base_url carries no user info and no key in its query.
func TestBaseURLRefusesCredentials(t *testing.T) {
	dsn, keyFile := sqliteDSN(t)
	r := newRig(t, dsn, keyFile)
	for _, u := range []string{
		"https://user:pass-secret@api.example/v1",
		"https://api.example/v1?key=sk-in-query-secret",
		"https://api.example/v1?API_KEY=sk-in-query-secret",
		"https://api.example/v1?x=1&token=sk-in-query-secret",
	} {
		code, body := r.do(t, "POST", "/admin/api/providers", `{"name":"q","models":["m"],"base_url":"`+u+`"}`)
		if code != 400 || !strings.Contains(body, "base_url") || !strings.Contains(body, `"param":"base_url"`) || strings.Contains(body, "secret") {
			t.Errorf("%s: %d %s", u, code, body)
		}
	}
	if code, body := r.do(t, "POST", "/admin/api/providers", `{"name":"q","models":["m"],"base_url":"https://api.example/v1?api-version=2024-10-21"}`); code != 201 {
		t.Fatalf("a harmless query: %d %s", code, body)
	}
}
