package keys

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/pgtest"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/llmbridge/llmbridge/internal/usage"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			println("goleak:", err.Error())
			code = 1
		}
	}
	os.Exit(code)
}

func ptr[T any](v T) *T { return &v }

func openStore(t testing.TB, dsn string) *usage.Store {
	t.Helper()
	s, err := usage.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sqlitePath(t testing.TB) string { return filepath.Join(t.TempDir(), "u.db") }

// harness is a Bridge in front of a fake OpenAI upstream, admitting with a.
type harness struct {
	b  *llmbridge.Bridge
	up *testupstream.Server
}

func newHarness(t testing.TB, a llmbridge.Admitter, opts ...llmbridge.Option) *harness {
	t.Helper()
	up := testupstream.New(t, testupstream.OpenAI)
	b, err := llmbridge.New(append([]llmbridge.Option{
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})),
		llmbridge.WithAdmitter(a)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return &harness{b: b, up: up}
}

const chatBody = `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"Hi"}]}`

func (h *harness) post(key, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	h.b.ServeHTTP(rec, req)
	return rec
}

func newAdmitter(t testing.TB, o Options) *Admitter {
	t.Helper()
	a, err := NewAdmitter(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func create(t testing.TB, s *Store, p Params) (*Key, string) {
	t.Helper()
	k, secret, err := s.Create(context.Background(), &p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return k, secret
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"openai/*", "openai/gpt-4o", true},
		{"openai/*", "openai/", true},
		{"openai/*", "openaix/gpt-4o", false},
		{"openai/*", "deepseek/deepseek-chat", false},
		{"*", "anything/at/all", true},
		{"*-mini", "openai/gpt-4o-mini", true},
		{"*-mini", "openai/gpt-4o", false},
		{"smart", "smart", true},
		{"smart", "smarter", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"", "", true},
		{"", "x", false},
		{"**", "", true},
	} {
		if got := Match(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestParseParamsNamesTheField(t *testing.T) {
	long := strings.Repeat("x", MaxNameLen+1)
	for _, tc := range []struct{ body, field string }{
		{`{"name":"a","colour":"red"}`, "colour"},
		{`{"rpm":-1}`, "rpm"},
		{`{"tpm":-5}`, "tpm"},
		{`{"max_parallel":-1}`, "max_parallel"},
		{`{"daily_budget_usd":-0.5}`, "daily_budget_usd"},
		{`{"monthly_budget_usd":-1}`, "monthly_budget_usd"},
		{`{"name":"` + long + `"}`, "name"},
		{`{"owner":"` + long + `"}`, "owner"},
		{`{"models":["openai/*",""]}`, "models[1]"},
		{`{"models":["has space"]}`, "models[0]"},
		{`{"models":"openai/*"}`, "models"},
		{`{"rpm":"60"}`, "rpm"},
		{`{"rpm":1.5}`, "rpm"},
		{`{"expires_at":"tomorrow"}`, "expires_at"},
		{`{"name":"a"} {}`, "body"},
		{`[1]`, "body"},
		{`{"name":"a\u0007"}`, "name"},
	} {
		_, err := ParseParams([]byte(tc.body))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: got %v, want a FieldError on %q", tc.body, err, tc.field)
		}
	}
	p, err := ParseParams([]byte(`{"name":"ann","owner":"team-a","models":["openai/*"],"rpm":60,"tpm":0,"daily_budget_usd":5,"expires_at":"2030-01-02T03:04:05Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if *p.Name != "ann" || *p.RPM != 60 || *p.DailyBudgetUSD != 5 || (*p.Models)[0] != "openai/*" || p.MaxParallel != nil {
		t.Errorf("parsed %+v", p)
	}
}

func TestSecretFormat(t *testing.T) {
	s := NewSecret()
	if !strings.HasPrefix(s, SecretPrefix) || len(s) != len(SecretPrefix)+43 || NewSecret() == s {
		t.Errorf("secret %q", s)
	}
	if !ValidID(newID()) || ValidID("vk_123") || ValidID("vk_0123456789ABCDEF") || ValidID("xx_0123456789abcdef") {
		t.Error("ValidID")
	}
}

func TestStore(t *testing.T) {
	for name, dsn := range map[string]func(t testing.TB) string{"sqlite": sqlitePath, "postgres": pgtest.URL} {
		t.Run(name, func(t *testing.T) {
			u := openStore(t, dsn(t))
			s := NewStore(u)
			ctx := context.Background()
			v0, err := s.Version(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Create(ctx, &Params{}, time.Now()); err == nil {
				t.Error("created a key without a name")
			}
			k, secret := create(t, s, Params{Name: ptr("ann"), Owner: ptr("team-a"), Models: &[]string{"openai/*"}, RPM: ptr[int64](60),
				DailyBudgetUSD: ptr(5.0), ExpiresAt: ptr("2030-01-02T03:04:05Z")})
			if k.Last4 != secret[len(secret)-4:] || !ValidID(k.ID) || k.RPM != 60 || k.ExpiresAt.Year() != 2030 {
				t.Errorf("created %+v", k)
			}
			// Only the digest and the last four characters are stored.
			var stored string
			if err := u.DB().QueryRowContext(ctx, `SELECT id || name || owner || secret_sha256 || last4 || models FROM virtual_keys`).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(stored, secret[len(SecretPrefix):len(secret)-4]) {
				t.Error("the secret is in the store")
			}
			got, err := s.Get(ctx, k.ID)
			if err != nil || got.Name != "ann" || got.hash != digest(secret) || got.Models[0] != "openai/*" || got.DailyBudgetUSD != 5 {
				t.Fatalf("Get: %+v %v", got, err)
			}
			up, err := s.Update(ctx, k.ID, &Params{RPM: ptr[int64](120), ExpiresAt: ptr("")}, time.Now())
			if err != nil || up.RPM != 120 || up.ExpiresAt != nil || up.Name != "ann" || up.DailyBudgetUSD != 5 {
				t.Fatalf("Update: %+v %v", up, err)
			}
			rv, err := s.Revoke(ctx, k.ID, time.Now())
			if err != nil || rv.RevokedAt == nil || rv.Active(time.Now()) {
				t.Fatalf("Revoke: %+v %v", rv, err)
			}
			if v, _ := s.Version(ctx); v != v0+3 {
				t.Errorf("version %d after three changes from %d", v, v0)
			}
			if _, err := s.Get(ctx, "vk_0000000000000000"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get unknown: %v", err)
			}
			if _, err := s.Revoke(ctx, "vk_0000000000000000", time.Now()); !errors.Is(err, ErrNotFound) {
				t.Errorf("Revoke unknown: %v", err)
			}
			list, err := s.List(ctx)
			if err != nil || len(list) != 1 || list[0].ID != k.ID {
				t.Fatalf("List: %v %v", list, err)
			}
		})
	}
}

// One instance is exact: 1,000 concurrent requests against RPM=100 admit
// exactly 100, and every answer carries the rate-limit headers.
func TestSingleInstanceExact(t *testing.T) {
	s := NewStore(openStore(t, sqlitePath(t)))
	_, secret := create(t, s, Params{Name: ptr("burst"), RPM: ptr[int64](100)})
	h := newHarness(t, newAdmitter(t, Options{Store: s}))
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() {
			rec := h.post(secret, chatBody)
			mu.Lock()
			defer mu.Unlock()
			codes[rec.Code]++
			if rec.Header().Get("X-Ratelimit-Limit-Requests") != "100" || rec.Header().Get("X-Ratelimit-Remaining-Requests") == "" ||
				rec.Header().Get("X-Ratelimit-Reset-Requests") == "" {
				t.Errorf("%d without rate-limit headers: %v", rec.Code, rec.Header())
			}
			if rec.Code == 429 && (!strings.Contains(rec.Body.String(), `"code":"rate_limit_exceeded"`) || rec.Header().Get("Retry-After") == "") {
				t.Errorf("429 %v %s", rec.Header(), rec.Body)
			}
		})
	}
	wg.Wait()
	if codes[200] != 100 || codes[429] != 900 {
		t.Fatalf("statuses %v, want exactly 100 × 200 and 900 × 429", codes)
	}
	if n := len(h.up.Requests()); n != 100 {
		t.Errorf("%d requests went upstream, want 100", n)
	}
}

func TestAuthentication(t *testing.T) {
	s := NewStore(openStore(t, sqlitePath(t)))
	_, live := create(t, s, Params{Name: ptr("live")})
	revoked, revokedSecret := create(t, s, Params{Name: ptr("revoked")})
	_, expiredSecret := create(t, s, Params{Name: ptr("expired"), ExpiresAt: ptr(time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))})
	if _, err := s.Revoke(context.Background(), revoked.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	var recs []llmbridge.UsageRecord
	var mu sync.Mutex
	sink := llmbridge.WithUsageSink(func(r llmbridge.UsageRecord) { mu.Lock(); recs = append(recs, r); mu.Unlock() })
	h := newHarness(t, newAdmitter(t, Options{Store: s, AccessKeys: []string{"static-key"}}), sink)
	unknown := h.post("wrong", chatBody)
	for name, key := range map[string]string{"revoked": revokedSecret, "expired": expiredSecret, "unknown virtual": SecretPrefix + "nope", "none": ""} {
		rec := h.post(key, chatBody)
		if rec.Code != 401 || rec.Body.String() != unknown.Body.String() {
			t.Errorf("%s key: %d %s, want the 401 of an unknown key %s", name, rec.Code, rec.Body, unknown.Body)
		}
	}
	if rec := h.post(live, chatBody); rec.Code != 200 {
		t.Errorf("live key: %d %s", rec.Code, rec.Body)
	}
	if rec := h.post("static-key", chatBody); rec.Code != 200 {
		t.Errorf("static key: %d %s", rec.Code, rec.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	if last := recs[len(recs)-1]; last.KeyID != llmbridge.KeyID("static-key") {
		t.Errorf("static key recorded as %q", last.KeyID)
	}
}

func TestModelsAllowed(t *testing.T) {
	s := NewStore(openStore(t, sqlitePath(t)))
	_, secret := create(t, s, Params{Name: ptr("m"), Models: &[]string{"openai/gpt-4o*", "smart"}})
	var recs []llmbridge.UsageRecord
	var mu sync.Mutex
	sink := llmbridge.WithUsageSink(func(r llmbridge.UsageRecord) { mu.Lock(); recs = append(recs, r); mu.Unlock() })
	h := newHarness(t, newAdmitter(t, Options{Store: s}), sink)
	if rec := h.post(secret, `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}`); rec.Code != 200 {
		t.Errorf("allowed model: %d %s", rec.Code, rec.Body)
	}
	rec := h.post(secret, `{"model":"openai/o1","messages":[{"role":"user","content":"Hi"}]}`)
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), `"code":"model_not_allowed"`) || !strings.Contains(rec.Body.String(), `"param":"model"`) {
		t.Errorf("disallowed model: %d %s", rec.Code, rec.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	last := recs[len(recs)-1]
	if last.Status != 403 || last.ErrorCode != "model_not_allowed" || !strings.HasPrefix(last.KeyID, "vk_") || last.TotalTokens != 0 {
		t.Errorf("refusal record %+v", last)
	}
}
