package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/usage"
)

func keyStore(t testing.TB) *usage.Store {
	s, err := usage.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func call(a http.Handler, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/", strings.NewReader(body))
	req.URL.Path = path
	req.Header.Set("Authorization", "Bearer "+adminKey)
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	return rec
}

type keyJSON struct {
	ID, Name, Owner, Last4, Key, Team string
	Models                            []string
	RPM                               int64   `json:"rpm"`
	DailyBudgetUSD                    float64 `json:"daily_budget_usd"`
	RevokedAt                         *string `json:"revoked_at"`
	ExpiresAt                         *string `json:"expires_at"`
	Spend                             *struct {
		TodayUSD float64 `json:"today_usd"`
	}
	Warnings []string
}

func TestKeysAPI(t *testing.T) {
	a := NewAPI(keyStore(t), adminKey)
	rec := call(a, "POST", "/admin/api/keys", `{"name":"ann","owner":"team-a","models":["openai/*","local/llama"],"rpm":60,"daily_budget_usd":5,"expires_at":"2030-01-01T00:00:00Z"}`)
	if rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var k keyJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &k); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.Key, "sk-lb-") || k.Last4 != k.Key[len(k.Key)-4:] || k.RPM != 60 || k.Spend == nil || *k.ExpiresAt != "2030-01-01T00:00:00Z" {
		t.Errorf("created %s", rec.Body)
	}
	if len(k.Warnings) != 1 || !strings.Contains(k.Warnings[0], "local/llama") {
		t.Errorf("warnings %q: want one for the unpriced local/llama", k.Warnings)
	}
	secret := k.Key
	for _, path := range []string{"/admin/api/keys", "/admin/api/keys/" + k.ID} {
		rec := call(a, "GET", path, "")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), k.ID) || strings.Contains(rec.Body.String(), secret[6:]) || strings.Contains(rec.Body.String(), `"key"`) {
			t.Errorf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
	}
	rec = call(a, "PATCH", "/admin/api/keys/"+k.ID, `{"rpm":120,"models":["openai/*"]}`)
	var up keyJSON
	_ = json.Unmarshal(rec.Body.Bytes(), &up)
	if rec.Code != 200 || up.RPM != 120 || up.Name != "ann" || up.DailyBudgetUSD != 5 || len(up.Warnings) != 0 {
		t.Errorf("PATCH: %d %s", rec.Code, rec.Body)
	}
	rec = call(a, "DELETE", "/admin/api/keys/"+k.ID, "")
	var del keyJSON
	_ = json.Unmarshal(rec.Body.Bytes(), &del)
	if rec.Code != 200 || del.RevokedAt == nil {
		t.Errorf("DELETE: %d %s", rec.Code, rec.Body)
	}
	if rec := call(a, "GET", "/admin/api/keys/vk_0000000000000000", ""); rec.Code != 404 || !strings.Contains(rec.Body.String(), "key_not_found") {
		t.Errorf("unknown id: %d %s", rec.Code, rec.Body)
	}
	if rec := call(a, "PUT", "/admin/api/keys/"+k.ID, "{}"); rec.Code != 405 || rec.Header().Get("Allow") == "" {
		t.Errorf("PUT: %d", rec.Code)
	}
	// Without the admin key: 401, as the rest of the admin API.
	req := httptest.NewRequest("GET", "/admin/api/keys", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	r401 := httptest.NewRecorder()
	a.ServeHTTP(r401, req)
	if r401.Code != 401 {
		t.Errorf("virtual key on the admin API: %d", r401.Code)
	}
}

// A budgeted key whose glob covers models without a price gets a warning
// naming them (a glob counted as priced when any price matched it, so
// openai/* hid o1-pro and o3-pro); the models come from SetModels.
func TestKeysAPIWarnsAboutUnpricedModels(t *testing.T) {
	served := []string{"openai/gpt-4o", "openai/o1-pro", "openai/o3-pro", "openai/gpt-4.5-preview", "deepseek/deepseek-chat"}
	a := NewAPI(keyStore(t), adminKey).SetModels(func() []string { return served }, nil)
	decode := func(rec *httptest.ResponseRecorder) keyJSON {
		t.Helper()
		var k keyJSON
		if err := json.Unmarshal(rec.Body.Bytes(), &k); err != nil || rec.Code/100 != 2 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		return k
	}
	k := decode(call(a, "POST", "/admin/api/keys", `{"name":"p","models":["openai/*"],"daily_budget_usd":5}`))
	if len(k.Warnings) != 1 || !strings.Contains(k.Warnings[0], "openai/gpt-4.5-preview, openai/o1-pro, openai/o3-pro)") ||
		strings.Contains(k.Warnings[0], "openai/gpt-4o,") || !strings.Contains(k.Warnings[0], "refused") {
		t.Errorf("create warnings %q: want one naming the three unpriced openai models", k.Warnings)
	}
	if up := decode(call(a, "PATCH", "/admin/api/keys/"+k.ID, `{"models":["openai/gpt-4*"]}`)); len(up.Warnings) != 1 || !strings.Contains(up.Warnings[0], "(openai/gpt-4.5-preview)") {
		t.Errorf("update warnings %q", up.Warnings)
	}
	if up := decode(call(a, "PATCH", "/admin/api/keys/"+k.ID, `{"daily_budget_usd":0}`)); len(up.Warnings) != 0 {
		t.Errorf("without a budget: warnings %q", up.Warnings)
	}
	a.SetPrices(usage.DefaultPrices().Merge(usage.Prices{"openai/o1-pro": {Input: 150, Output: 600}, "openai/o3-pro": {Input: 20, Output: 80},
		"openai/gpt-4.5-preview": {Input: 75, Output: 150}}))
	if k := decode(call(a, "POST", "/admin/api/keys", `{"name":"q","models":["openai/*"],"monthly_budget_usd":5}`)); len(k.Warnings) != 0 {
		t.Errorf("every model priced: warnings %q", k.Warnings)
	}
}

func TestKeysAPIBadInputNamesTheField(t *testing.T) {
	a := NewAPI(keyStore(t), adminKey)
	for _, tc := range []struct{ method, path, body, param string }{
		{"POST", "/admin/api/keys", `{"name":"a","surprise":1}`, "surprise"},
		{"POST", "/admin/api/keys", `{"name":"a","rpm":-1}`, "rpm"},
		{"POST", "/admin/api/keys", `{"name":"a","monthly_budget_usd":-3}`, "monthly_budget_usd"},
		{"POST", "/admin/api/keys", `{"name":"` + strings.Repeat("n", 201) + `"}`, "name"},
		{"POST", "/admin/api/keys", `{"owner":"x"}`, "name"},
		{"POST", "/admin/api/keys", `{"name":"a","expires_at":"2030-13-01"}`, "expires_at"},
		{"POST", "/admin/api/keys", `not json`, "body"},
		{"PATCH", "/admin/api/keys/vk_12", `{}`, "id"},
		{"GET", "/admin/api/keys/../usage", ``, "id"},
		{"DELETE", "/admin/api/keys/VK_0000000000000000", ``, "id"},
		{"PATCH", "/admin/api/keys/vk_0000000000000000", `{"name":""}`, "name"},
	} {
		rec := call(a, tc.method, tc.path, tc.body)
		var e struct {
			Error struct{ Message, Code, Param string }
		}
		if rec.Code != 400 || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error.Param != tc.param || !strings.Contains(e.Error.Message, tc.param) {
			t.Errorf("%s %s %s: %d %s, want 400 naming %q", tc.method, tc.path, tc.body, rec.Code, rec.Body, tc.param)
		}
	}
}

// FuzzAdminKeys sends arbitrary bodies and ids to the key endpoints over
// a real store: every answer is a success or an OpenAI-shaped 4xx naming
// a field, never a 500 or a panic, and no answer but a create's carries a
// secret.
func FuzzAdminKeys(f *testing.F) {
	for _, s := range []string{`{"name":"a","models":["openai/*"],"rpm":60}`, `{"rpm":-1}`, `{"name":"x","tpm":1e30}`, `{}`, `{"name":null}`,
		`{"expires_at":"2030-01-01T00:00:00+08:00","name":"t"}`, `{"models":[""]}`, `[`, `{"name":"a","daily_budget_usd":0.5}`} {
		f.Add("POST", "", s)
		f.Add("PATCH", "vk_0123456789abcdef", s)
	}
	f.Add("DELETE", "vk_%00", "")
	f.Add("GET", "", "")
	a := NewAPI(keyStore(f), adminKey)
	f.Fuzz(func(t *testing.T, method, id, body string) {
		switch method {
		case "GET", "POST", "PATCH", "DELETE":
		default:
			method = "GET"
		}
		path := "/admin/api/keys"
		if id != "" {
			path += "/" + id
		}
		rec := call(a, method, path, body)
		switch {
		case rec.Code == 200 || rec.Code == 201:
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("invalid JSON %s", rec.Body)
			}
			if rec.Code != 201 && strings.Contains(rec.Body.String(), `"key":"sk-lb-`) {
				t.Fatalf("secret outside a create: %s", rec.Body)
			}
		case rec.Code == 400:
			var e struct {
				Error struct{ Message, Param string }
			}
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error.Param == "" || e.Error.Message == "" {
				t.Fatalf("400 without a field: %s", rec.Body)
			}
		case rec.Code == 404 || rec.Code == 405:
		default:
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
		}
	})
}
