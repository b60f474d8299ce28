package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/golden"
	"github.com/llmbridge/llmbridge/internal/usage"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const adminKey = "admin-secret-key"

var day1 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func adminServer(t *testing.T, s *usage.Store, key string) *httptest.Server {
	a := NewAPI(s, key)
	a.now = func() time.Time { return day1.AddDate(0, 0, 1) }
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url, key string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// rec builds a priced request row.
func rec(at time.Time, key, provider, model string, prompt, cached, completion int, status int) usage.Row {
	return usage.RowOf(llmbridge.UsageRecord{ID: llmbridge.NewRecordID(at), Time: at, RequestID: "req_x", KeyID: key, Provider: provider,
		Model: provider + "/" + model, UpstreamModel: model, Status: status, PromptTokens: prompt, CachedTokens: cached,
		CompletionTokens: completion, TotalTokens: prompt + completion, Duration: 120 * time.Millisecond}, usage.DefaultPrices())
}

// seeded returns a SQLite store holding five requests over two days.
func seeded(t testing.TB) *usage.Store {
	s, err := usage.Open(context.Background(), filepath.Join(t.TempDir(), "u.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Insert(context.Background(), []usage.Row{
		rec(day1, "key-a", "openai", "gpt-4o-mini", 1000, 600, 200, 200),
		rec(day1.Add(time.Hour), "key-b", "openai", "gpt-4o-mini", 1000, 0, 0, 200),
		rec(day1.Add(2*time.Hour), "key-b", "gemini", "gemini-exp-1206", 10, 0, 5, 200),
		rec(day1.Add(3*time.Hour), "key-b", "openai", "gpt-4o-mini", 0, 0, 0, 429),
		rec(day1.AddDate(0, 0, 1), "key-a", "anthropic", "claude-sonnet-4-5", 125, 100, 10, 200),
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAdminUsageReport pins the JSON and CSV of a report (golden files).
func TestAdminUsageReport(t *testing.T) {
	srv := adminServer(t, seeded(t), adminKey)
	resp, body := get(t, srv.URL+"/admin/api/usage?from=2026-11-23&to=2026-11-24&group_by=model,key", adminKey)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	golden.Check(t, "report.golden.json", golden.IndentJSON(t, []byte(body)))
	var rep struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Rows {
		if r["model"] == "gemini/gemini-exp-1206" && r["cost_usd"] != nil {
			t.Errorf("unpriced model has cost %v, want null", r["cost_usd"])
		}
	}

	resp, body = get(t, srv.URL+"/admin/api/usage?from=2026-11-23&to=2026-11-24&group_by=day,provider&format=csv", adminKey)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "usage-2026-11-23-2026-11-24.csv") {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
	}
	golden.Check(t, "report.golden.csv", []byte(body))

	// Defaults: the last seven days up to today, by day.
	_, body = get(t, srv.URL+"/admin/api/usage", adminKey)
	if !strings.HasPrefix(body, `{"from":"2026-11-18","to":"2026-11-24","group_by":["day"],"rows":[{"day":"2026-11-23",`) {
		t.Fatalf("defaults: %s", body)
	}
}

func TestAdminAuthAndErrors(t *testing.T) {
	s := seeded(t)
	off := adminServer(t, s, "")
	resp, body := get(t, off.URL+"/admin/api/usage", "anything")
	if resp.StatusCode != 404 || !strings.Contains(body, "LLMBRIDGE_ADMIN_KEY") || !strings.Contains(body, `"code":"admin_api_disabled"`) {
		t.Fatalf("disabled: %d %s", resp.StatusCode, body)
	}
	srv := adminServer(t, s, adminKey)
	for _, tc := range []struct {
		path, key string
		status    int
		code      string
	}{
		{"/admin/api/usage", "", 401, "invalid_api_key"},
		{"/admin/api/usage", "sk-access-key", 401, "invalid_api_key"},
		{"/admin/api/usage?from=2026-02-30", adminKey, 400, "invalid_query"},
		{"/admin/api/usage?from=2026-11-25&to=2026-11-01", adminKey, 400, "invalid_query"},
		{"/admin/api/usage?group_by=model%3Bdrop", adminKey, 400, "invalid_query"},
		{"/admin/api/usage?format=xml", adminKey, 400, "invalid_query"},
		{"/admin/api/requests?limit=0", adminKey, 400, "invalid_query"},
		{"/admin/api/requests?limit=5000", adminKey, 400, "invalid_query"},
		{"/admin/api/requests?before=' OR 1=1", adminKey, 400, "invalid_query"},
		{"/admin/api/nothing", adminKey, 404, "not_found"},
	} {
		resp, body := get(t, srv.URL+strings.ReplaceAll(tc.path, " ", "%20"), tc.key)
		var e struct {
			Error struct{ Message, Type, Code string }
		}
		if resp.StatusCode != tc.status || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != tc.code || e.Error.Message == "" {
			t.Errorf("%s: %d %s", tc.path, resp.StatusCode, body)
		}
		if strings.Contains(body, adminKey) {
			t.Errorf("%s: the admin key is in the response", tc.path)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/admin/api/usage", nil)
	req.Header.Set("x-api-key", adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 405 || resp.Header.Get("Allow") == "" {
		t.Fatalf("POST: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	// The admin endpoints' key rule (secret.StrictCredential): an
	// Authorization header of another scheme is judged alone, so the
	// admin key in x-api-key beside it does not open the API.
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/admin/api/usage", nil)
	req.Header.Set("Authorization", "Basic eDp5")
	req.Header.Set("x-api-key", adminKey)
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("Basic beside x-api-key: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	noStore := adminServer(t, nil, adminKey)
	if resp, body := get(t, noStore.URL+"/admin/api/usage", adminKey); resp.StatusCode != 503 || !strings.Contains(body, "usage_store_off") {
		t.Fatalf("no store: %d %s", resp.StatusCode, body)
	}
}

func TestAdminRequestsPages(t *testing.T) {
	srv := adminServer(t, seeded(t), adminKey)
	var all []usage.Row
	before := ""
	for pages := 0; ; pages++ {
		_, body := get(t, srv.URL+"/admin/api/requests?limit=2&before="+before, adminKey)
		var page RequestsPage
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err, body)
		}
		all = append(all, page.Requests...)
		if page.NextBefore == nil {
			break
		}
		before = *page.NextBefore
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(all) != 5 || all[0].Model != "anthropic/claude-sonnet-4-5" || all[4].CostUSD == nil || *all[4].CostUSD != 0.000225 {
		t.Fatalf("%+v", all)
	}
	for i := 1; i < len(all); i++ {
		if !all[i].Time.Before(all[i-1].Time) {
			t.Fatalf("not newest first: %v then %v", all[i-1].Time, all[i].Time)
		}
	}
}
