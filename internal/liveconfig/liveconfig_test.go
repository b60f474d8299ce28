package liveconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/configfile"
	"github.com/llmbridge/llmbridge/internal/pgtest"
	"github.com/llmbridge/llmbridge/internal/usage"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const plainKey = "sk-live-canary-0123456789abcdef"

// rig is a Manager over a real store whose Check and Apply record what
// they see; check refuses providers of kind "bad" with a start-up-like
// message.
type rig struct {
	m       *Manager
	h       http.Handler
	st      *usage.Store
	applied atomic.Pointer[configfile.Layer]
	applies atomic.Int64
	base    Base
}

func newRig(t testing.TB, dsn string, keyFile string) *rig {
	t.Helper()
	st, err := usage.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newRigOn(t, st, keyFile)
}

func newRigOn(t testing.TB, st *usage.Store, keyFile string) *rig {
	t.Helper()
	seal, err := NewSealer("", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{st: st}
	check := func(l *configfile.Layer) error {
		_, err := configfile.CheckLayer(l, nil)
		for _, p := range l.Providers {
			if p.Kind == "bad" {
				err = errors.Join(err, fmt.Errorf("%s: provider (%s): kind %q is not supported", configfile.StoreLabel, p.Name, p.Kind))
			}
		}
		return err
	}
	apply := func(l *configfile.Layer) error {
		if err := check(l); err != nil {
			return err
		}
		r.applied.Store(l)
		r.applies.Add(1)
		return nil
	}
	r.m, err = New(context.Background(), Options{Store: st, Sealer: seal, Check: check, Apply: apply, Base: func() Base { return r.base }, Poll: 50 * time.Millisecond,
		AdminKey: func() string { return "admin-key-for-tests" }})
	if err != nil {
		t.Fatal(err)
	}
	r.h = r.m.Handler()
	return r
}

func (r *rig) do(t testing.TB, method, path, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer admin-key-for-tests")
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

func sqliteDSN(t *testing.T) (dsn, keyFile string) {
	dir := t.TempDir()
	return filepath.Join(dir, "data", "u.db"), filepath.Join(dir, "data", KeyFileName)
}

func TestStoredProviderSQLite(t *testing.T) {
	dsn, keyFile := sqliteDSN(t)
	testStoredProvider(t, dsn, keyFile)
	// The database file (and its WAL) never holds the key in plain text.
	for _, f := range []string{dsn, dsn + "-wal"} {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte(plainKey)) || bytes.Contains(b, []byte(plainKey[8:])) {
			t.Fatalf("%s holds the provider key in plain text", f)
		}
	}
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v, want mode 0600", fi, err)
	}
}

func TestStoredProviderPostgres(t *testing.T) {
	url := pgtest.URL(t)
	testStoredProvider(t, url, filepath.Join(t.TempDir(), KeyFileName))
}

func testStoredProvider(t *testing.T, dsn, keyFile string) {
	r := newRig(t, dsn, keyFile)
	code, body := r.do(t, "POST", "/admin/api/providers", `{"name":"acme","kind":"openai","base_url":"https://acme.example/v1","api_key":"`+plainKey+`","models":["m1","m2"]}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	if strings.Contains(body, plainKey) || !strings.Contains(body, `"api_key_last4":"cdef"`) || !strings.Contains(body, `"source":"store"`) {
		t.Fatalf("create answered %s", body)
	}
	if l := r.applied.Load(); l == nil || len(l.Providers) != 1 || l.Providers[0].APIKey != plainKey {
		t.Fatalf("not applied before the answer: %+v", l)
	}
	// An omitted api_key keeps the stored one (base_url unchanged).
	if code, body := r.do(t, "PUT", "/admin/api/providers/acme", `{"kind":"openai","base_url":"https://acme.example/v1","models":["m3"]}`); code != 200 {
		t.Fatalf("put: %d %s", code, body)
	}
	if p := r.applied.Load().Providers[0]; p.APIKey != plainKey || len(p.Models) != 1 || p.Models[0] != "m3" {
		t.Fatalf("after PUT: %+v", p)
	}
	// A restart (a new manager on the same store) keeps everything.
	st2, err := usage.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	r2 := newRigOn(t, st2, keyFile)
	if l := r2.m.Layer(); len(l.Providers) != 1 || l.Providers[0].APIKey != plainKey {
		t.Fatalf("after restart: %+v", l)
	}
	code, body = r.do(t, "GET", "/admin/api/audit", "")
	if code != 200 || !strings.Contains(body, `"provider.create"`) || !strings.Contains(body, `"provider.update"`) || strings.Contains(body, plainKey) {
		t.Fatalf("audit: %d %s", code, body)
	}
	if !strings.Contains(body, `"api_key":"set"`) || !strings.Contains(body, `"actor":"admin key"`) {
		t.Fatalf("audit fields: %s", body)
	}
}

func TestRefusedChangeLeavesEverything(t *testing.T) {
	dsn, keyFile := sqliteDSN(t)
	r := newRig(t, dsn, keyFile)
	r.do(t, "POST", "/admin/api/providers", `{"name":"ok","kind":"openai","models":["m"]}`)
	v, _ := r.m.st.version(context.Background())
	n := r.applies.Load()
	code, body := r.do(t, "POST", "/admin/api/providers", `{"name":"worse","kind":"bad","models":["m"]}`)
	if code != 400 || !strings.Contains(body, `kind \"bad\" is not supported`) {
		t.Fatalf("bad kind: %d %s", code, body)
	}
	// The route's weight is checked by the file's code, with its message.
	code, body = r.do(t, "PUT", "/admin/api/routes/smart", `{"targets":[{"model":"ok/m","weight":0}]}`)
	if code != 400 || !strings.Contains(body, "stored configuration: route 1 (smart) target 1 (ok/m): weight 0 must be positive") {
		t.Fatalf("bad route: %d %s", code, body)
	}
	if v2, _ := r.m.st.version(context.Background()); v2 != v || r.applies.Load() != n {
		t.Fatalf("a refused change was written (version %d→%d) or applied", v, v2)
	}
	if l := r.m.Layer(); len(l.Providers) != 1 || len(l.Routes) != 0 {
		t.Fatalf("layer changed: %+v", l)
	}
}

func TestFieldErrorsAndConflicts(t *testing.T) {
	dsn, keyFile := sqliteDSN(t)
	r := newRig(t, dsn, keyFile)
	r.base = Base{Env: []configfile.Provider{{Name: "openai", Kind: "openai", Key: "sk-env-secret-000000"}},
		File: &configfile.File{Path: "conf.yaml", Providers: []configfile.Provider{{Name: "filed"}}}}
	for _, c := range []struct {
		method, path, body string
		status             int
		want               []string
	}{
		{"POST", "/admin/api/providers", `{"name":"","base_url":"ftp://x","models":[""]}`, 400, []string{"name: required", `base_url \"ftp://x\"`, "models: entry 1 is empty"}},
		{"POST", "/admin/api/providers", `{"name":"a/b"}`, 400, []string{`name \"a/b\"`}},
		{"POST", "/admin/api/providers", `{"Name":"x"}`, 400, []string{"field Name not found"}},
		{"POST", "/admin/api/providers", `{"name":"openai"}`, 409, []string{"defined in the environment"}},
		{"POST", "/admin/api/providers", `{"name":"filed"}`, 409, []string{"LLMBRIDGE_CONFIG (conf.yaml)"}},
		{"DELETE", "/admin/api/providers/filed", ``, 409, []string{"read-only"}},
		{"DELETE", "/admin/api/providers/nobody", ``, 404, []string{"no stored provider"}},
		{"PUT", "/admin/api/prices/gpt-4o", `{"input":1,"output":2}`, 400, []string{"want provider/model"}},
		{"POST", "/admin/api/providers", strings.Repeat(" ", maxBody+1), 413, nil},
		{"POST", "/admin/api/providers", ``, 400, []string{"empty"}},
	} {
		code, body := r.do(t, c.method, c.path, c.body)
		if code != c.status {
			t.Errorf("%s %s %.40q: %d %s, want %d", c.method, c.path, c.body, code, body, c.status)
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s %s: %s lacks %q", c.method, c.path, body, w)
			}
		}
		if strings.Contains(body, "sk-env-secret") {
			t.Errorf("%s %s: the env key in %s", c.method, c.path, body)
		}
	}
	if code, body := r.do(t, "POST", "/admin/api/providers", `{"name":"dup","models":["m"]}`); code != 201 {
		t.Fatal(code, body)
	}
	if code, body := r.do(t, "POST", "/admin/api/providers", `{"name":"dup","models":["m"]}`); code != 409 {
		t.Fatalf("duplicate: %d %s", code, body)
	}
	code, body := r.do(t, "GET", "/admin/api/config", "")
	var v View
	if code != 200 || json.Unmarshal([]byte(body), &v) != nil || len(v.Providers) != 3 || strings.Contains(body, "sk-env-secret") {
		t.Fatalf("config: %d %s", code, body)
	}
	if v.Providers[0].Source != SourceEnv || v.Providers[0].APIKeyLast4 != "0000" || v.Providers[1].Source != SourceFile || v.Providers[2].Source != SourceStore {
		t.Fatalf("sources: %+v", v.Providers)
	}
}

func TestItemsAndExportImport(t *testing.T) {
	dsn, keyFile := sqliteDSN(t)
	r := newRig(t, dsn, keyFile)
	steps := []struct{ method, path, body string }{
		{"POST", "/admin/api/providers", `{"name":"acme","api_key":"` + plainKey + `","models":["m1"],"headers":{"X-Org":"org-secret-hdr"},"proxy":"http://u:proxy-pass-123@127.0.0.1:3128"}`},
		{"PUT", "/admin/api/routes/smart", `{"strategy":"ordered","targets":[{"model":"acme/m1"}]}`},
		{"PUT", "/admin/api/prices/acme/m1", `{"input":1.5,"output":3}`},
		{"PUT", "/admin/api/cache/policy", `{"ttl":"1h","models":["acme/*"]}`},
		{"PUT", "/admin/api/alerts/rules/errors", `{"kind":"error_rate","above":"5%"}`},
	}
	for _, s := range steps {
		if code, body := r.do(t, s.method, s.path, s.body); code/100 != 2 {
			t.Fatalf("%s %s: %d %s", s.method, s.path, code, body)
		}
	}
	code, yml := r.do(t, "GET", "/admin/api/config?format=yaml", "")
	if code != 200 || strings.Contains(yml, plainKey) || strings.Contains(yml, "org-secret-hdr") || strings.Contains(yml, "proxy-pass-123") ||
		!strings.Contains(yml, "acme/m1") || !strings.Contains(yml, "ttl: 1h0m0s") {
		t.Fatalf("export: %d\n%s", code, yml)
	}
	// Delete everything, import the export: the same items, and the
	// provider (exported without its key) is new, so keyless.
	for _, p := range []string{"/admin/api/routes/smart", "/admin/api/prices/acme/m1", "/admin/api/cache/policy", "/admin/api/alerts/rules/errors"} {
		if code, body := r.do(t, "DELETE", p, ""); code != 200 {
			t.Fatalf("DELETE %s: %d %s", p, code, body)
		}
	}
	if code, body := r.do(t, "POST", "/admin/api/config", yml); code != 200 {
		t.Fatalf("import: %d %s", code, body)
	}
	l := r.m.Layer()
	if len(l.Routes) != 1 || l.Prices["acme/m1"].Input != 1.5 || l.Cache == nil || l.Cache.TTL != time.Hour || len(l.AlertRules) != 1 {
		t.Fatalf("after import: %+v", l)
	}
	if p := l.Providers[0]; p.APIKey != plainKey || p.Headers["X-Org"] != "org-secret-hdr" || !strings.Contains(p.Proxy, "proxy-pass-123") {
		t.Fatalf("import without the secrets dropped the stored ones: %+v", p)
	}
	if _, body := r.do(t, "GET", "/admin/api/config", ""); strings.Contains(body, "org-secret-hdr") || strings.Contains(body, "proxy-pass-123") {
		t.Fatalf("the config view shows a header value or the proxy password: %s", body)
	}
	// Header values and the proxy URL are sealed like the keys.
	for _, f := range []string{dsn, dsn + "-wal"} {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte("org-secret-hdr")) || bytes.Contains(b, []byte("proxy-pass-123")) {
			t.Fatalf("%s holds a header value or the proxy password in plain text", f)
		}
	}
}

// Concurrent edits of one item: the last write wins whole, never a mix.
func TestConcurrentEditsNeverMix(t *testing.T) {
	dsn, keyFile := sqliteDSN(t)
	r := newRig(t, dsn, keyFile)
	st2, err := usage.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	r2 := newRigOn(t, st2, keyFile) // a second "replica" on the same file
	var wg sync.WaitGroup
	for i := range 8 {
		rr := r
		if i%2 == 1 {
			rr = r2
		}
		wg.Go(func() {
			body := fmt.Sprintf(`{"base_url":"https://v%d.example/v1","models":["m%d"],"api_key":"sk-key-number-%d-xxxx"}`, i, i, i)
			if code, b := rr.do(t, "PUT", "/admin/api/providers/p", body); code/100 != 2 {
				t.Errorf("PUT %d: %d %s", i, code, b)
			}
		})
	}
	wg.Wait()
	l, _, err := r.m.read(context.Background())
	if err != nil || len(l.Providers) != 1 {
		t.Fatalf("%v %+v", err, l)
	}
	p := l.Providers[0]
	var i int
	if _, err := fmt.Sscanf(p.BaseURL, "https://v%d.example/v1", &i); err != nil || p.Models[0] != fmt.Sprintf("m%d", i) || p.APIKey != fmt.Sprintf("sk-key-number-%d-xxxx", i) {
		t.Fatalf("mixed item: %+v", p)
	}
}

func TestProviderTestNeedsAModel(t *testing.T) {
	dsn, keyFile := sqliteDSN(t)
	r := newRig(t, dsn, keyFile)
	r.do(t, "POST", "/admin/api/providers", `{"name":"nomodels"}`)
	if code, body := r.do(t, "POST", "/admin/api/providers/nomodels/test", ""); code != 400 || !strings.Contains(body, "lists no models") {
		t.Fatalf("%d %s", code, body)
	}
	if code, _ := r.do(t, "POST", "/admin/api/providers/ghost/test", ""); code != 404 {
		t.Fatalf("unknown provider: %d", code)
	}
}

func TestAuditAdminMiddleware(t *testing.T) {
	dsn, keyFile := sqliteDSN(t)
	r := newRig(t, dsn, keyFile)
	inner := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body) // the body is still there for the handler
		if !bytes.Contains(b, []byte("alice")) && req.Method == "POST" {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(201)
	})
	h := r.m.AuditAdmin(inner)
	req := httptest.NewRequest("POST", "/admin/api/keys", strings.NewReader(`{"name":"alice","api_key":"sk-should-not-show","rpm":5}`))
	h.ServeHTTP(httptest.NewRecorder(), req)
	req = httptest.NewRequest("DELETE", "/admin/api/keys/vk_1", nil)
	req.AddCookie(&http.Cookie{Name: "s", Value: "v"})
	h.ServeHTTP(httptest.NewRecorder(), req)
	list, err := r.m.AuditLog(context.Background(), 10, "")
	if err != nil || len(list) != 2 {
		t.Fatalf("%v %+v", err, list)
	}
	if list[0].Action != "key.revoke" || list[0].Target != "key/vk_1" || list[1].Action != "key.create" || list[1].Fields["name"] != "alice" || list[1].Fields["api_key"] != "set" {
		t.Fatalf("entries: %+v", list)
	}
}

func TestSealer(t *testing.T) {
	if _, err := NewSealer("short", ""); err == nil {
		t.Fatal("a short LLMBRIDGE_SECRET_KEY was accepted")
	}
	a, _ := NewSealer(strings.Repeat("a", 32), "")
	b, _ := NewSealer(strings.Repeat("b", 32), "")
	s, err := a.Seal("secret", "provider/x")
	if err != nil || strings.Contains(s, "secret") {
		t.Fatal(s, err)
	}
	if p, err := a.Open(s, "provider/x"); err != nil || p != "secret" {
		t.Fatal(p, err)
	}
	if _, err := a.Open(s, "provider/y"); err == nil {
		t.Fatal("a sealed value opened for another item")
	}
	if _, err := b.Open(s, "provider/x"); err == nil || !strings.Contains(err.Error(), "LLMBRIDGE_SECRET_KEY") {
		t.Fatalf("another key: %v", err)
	}
	missing, _ := NewSealer("", filepath.Join(t.TempDir(), "none", KeyFileName))
	if _, err := missing.Open(s, "provider/x"); err == nil {
		t.Fatal("opened without a key file")
	}
}

// A replica whose key does not open the stored secrets keeps its running
// configuration, says why once, and picks up the next readable change.
func TestUnreadableStoreKeepsRunning(t *testing.T) {
	dsn, keyFile := sqliteDSN(t)
	r := newRig(t, dsn, keyFile)
	st2, err := usage.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	other := newRigOn(t, st2, filepath.Join(t.TempDir(), KeyFileName)) // another key file
	if code, body := r.do(t, "POST", "/admin/api/providers", `{"name":"a","api_key":"`+plainKey+`","models":["m"]}`); code != 201 {
		t.Fatal(code, body)
	}
	err = other.m.refresh(context.Background(), false)
	var bad *unreadable
	if !errors.As(err, &bad) || !strings.Contains(err.Error(), "secret key file") || other.applies.Load() != 0 {
		t.Fatalf("refresh with the wrong key: %v (applied %d)", err, other.applies.Load())
	}
	if err := other.m.refresh(context.Background(), false); err != nil {
		t.Fatalf("the same version was tried again: %v", err)
	}
	if code, body := r.do(t, "DELETE", "/admin/api/providers/a", ""); code != 200 {
		t.Fatal(code, body)
	}
	if err := other.m.refresh(context.Background(), false); err != nil || other.applies.Load() != 1 {
		t.Fatalf("the next change: %v (applied %d)", err, other.applies.Load())
	}
}
