package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/keys"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// A key created through the admin API works on the very next request
// through a Bridge with the same process's Admitter, a change of its
// models holds at once, and a revoked key is refused at once: the API
// applies the change (SetKeysChanged) before it answers. The Admitter
// does not poll in between (Poll: an hour).
func TestKeyChangesHoldAtOnce(t *testing.T) {
	u := keyStore(t)
	ctx := context.Background()
	adm, err := keys.NewAdmitter(ctx, keys.Options{Store: keys.NewStore(u), Poll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	up := testupstream.New(t, testupstream.OpenAI)
	b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})),
		llmbridge.WithAdmitter(adm))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	chat := func(secret string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
			strings.NewReader(`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"Hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+secret)
		rec := httptest.NewRecorder()
		b.ServeHTTP(rec, req)
		return rec
	}
	a := NewAPI(u, adminKey).SetKeysChanged(adm.Changed)

	rec := call(a, "POST", "/admin/api/keys", `{"name":"script"}`)
	if rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var k keyJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &k); err != nil {
		t.Fatal(err)
	}
	if rec := chat(k.Key); rec.Code != 200 {
		t.Fatalf("the key just created: %d %s, want 200", rec.Code, rec.Body)
	}
	if rec := call(a, "PATCH", "/admin/api/keys/"+k.ID, `{"models":["anthropic/*"]}`); rec.Code != 200 {
		t.Fatalf("update: %d %s", rec.Code, rec.Body)
	}
	if rec := chat(k.Key); rec.Code != 403 || !strings.Contains(rec.Body.String(), "model_not_allowed") {
		t.Fatalf("the key just limited to anthropic/*: %d %s, want 403 model_not_allowed", rec.Code, rec.Body)
	}
	if rec := call(a, "DELETE", "/admin/api/keys/"+k.ID, ""); rec.Code != 200 {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	if rec := chat(k.Key); rec.Code != 401 {
		t.Fatalf("the key just revoked: %d %s, want 401", rec.Code, rec.Body)
	}
}

// When the hook fails, the change is made all the same and the answer
// says it could not be applied at once.
func TestKeyChangedHookFails(t *testing.T) {
	calls := 0
	a := NewAPI(keyStore(t), adminKey).SetKeysChanged(func(context.Context) error {
		calls++
		return errors.New("store unreachable")
	})
	rec := call(a, "POST", "/admin/api/keys", `{"name":"x"}`)
	var k keyJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &k); err != nil || rec.Code != 201 || k.Key == "" {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	if len(k.Warnings) != 1 || !strings.Contains(k.Warnings[0], "store unreachable") {
		t.Errorf("warnings %q: want the hook's failure", k.Warnings)
	}
	for _, c := range []struct{ method, body string }{{"PATCH", `{"rpm":5}`}, {"DELETE", ""}} {
		rec := call(a, c.method, "/admin/api/keys/"+k.ID, c.body)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "could not apply it at once") {
			t.Errorf("%s: %d %s", c.method, rec.Code, rec.Body)
		}
	}
	if rec := call(a, "PATCH", "/admin/api/keys/vk_0000000000000000", `{"rpm":5}`); rec.Code != 404 {
		t.Errorf("unknown key: %d", rec.Code)
	}
	if calls != 3 {
		t.Errorf("the hook ran %d times, want 3 (not for a failed change)", calls)
	}
}
