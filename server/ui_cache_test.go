package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// TestAdminUICacheColumnsInChromium answers a request from the response
// cache and checks the admin UI shows it as the admin API counts it: the
// Usage page's cache hits and saved $ per model and in total (per day from
// the report, per hour from the stored requests), and the Live page's
// stored hit marked with what it saved.
func TestAdminUICacheColumnsInChromium(t *testing.T) {
	exe := chromiumPath(t)
	shots := artifacts(t)
	up := testupstream.New(t, testupstream.OpenAI)
	up.Key = uiOpenAIKey
	up.SetDefault(testupstream.Reply{Content: []string{"cached", " answer"}, Usage: testupstream.Usage{Prompt: 1000, Cached: 600, Completion: 200}})
	yamlFile := filepath.Join(t.TempDir(), "llmbridge.yaml")
	// 400 × 1 + 600 × 0.5 + 200 × 2 = 1100 µ$ per answer.
	if err := os.WriteFile(yamlFile, []byte("prices:\n  openai/gpt-4o-mini: {input: 1, cached_input: 0.5, output: 2}\n"+
		"cache:\n  ttl: 1h\n  models: [\"openai/*\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, console := startObserved(t, "ACCESS_API_KEYS="+uiAccessKey, "OPENAI_API_KEY="+uiOpenAIKey, "OPENAI_BASE_URL="+up.BaseURL(),
		"LLMBRIDGE_ADMIN_KEY="+uiAdminKey, "LLMBRIDGE_DB="+filepath.Join(t.TempDir(), "u.db"), "LLMBRIDGE_CONFIG="+yamlFile)
	base := "http://" + addr

	send := func(reqID string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions",
			strings.NewReader(`{"model":"openai/gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"the same question"}]}`))
		req.Header.Set("Authorization", "Bearer "+uiAccessKey)
		req.Header.Set("X-Request-Id", reqID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", reqID, resp.StatusCode, b)
		}
		return resp.Header.Get("X-Cache")
	}
	if got := send("req-cache-miss"); got != "MISS" {
		t.Fatalf("first request: X-Cache %q", got)
	}
	if got := send("req-cache-hit"); got != "HIT" {
		t.Fatalf("repeated request: X-Cache %q", got)
	}

	type apiRow struct {
		Model     string   `json:"model"`
		Requests  int64    `json:"requests"`
		CostUSD   *float64 `json:"cost_usd"`
		CacheHits int64    `json:"cache_hits"`
		SavedUSD  float64  `json:"saved_usd"`
	}
	var api struct {
		Rows   []apiRow `json:"rows"`
		Totals apiRow   `json:"totals"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		code, body := getWith(t, base+"/admin/api/usage?group_by=model", uiAdminKey)
		if code != 200 || json.Unmarshal([]byte(body), &api) != nil {
			t.Fatalf("usage API: %d %s", code, body)
		}
		if api.Totals.Requests >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the usage store never counted 2 requests: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if api.Totals.CacheHits != 1 || api.Totals.SavedUSD != 0.0011 || api.Totals.CostUSD == nil || *api.Totals.CostUSD != 0.0011 || len(api.Rows) != 1 {
		t.Fatalf("the API's report: %+v", api)
	}

	w := &browserWatch{}
	ctx := browser(t, exe, w)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\nserver log:\n%s", what, err, console)
		}
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `document.addEventListener('securitypolicyviolation',
			(e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))`}); err != nil {
		t.Fatal(err)
	}
	do("sign in", chromedp.Navigate(base+"/admin/"), chromedp.WaitVisible(css(`#key`)),
		chromedp.SendKeys(css(`#key`), uiAdminKey+kb.Enter), chromedp.WaitVisible(css(`#live-table`)))

	// The Live page's stored rows: the hit says it was one and what it saved.
	do("live hit row", chromedp.WaitVisible(css(`tr[data-request-id="req-cache-hit"] td[data-cache="hit"]`)))
	if txt := value(t, ctx, "hit cost cell", chromedp.Text(css(`tr[data-request-id="req-cache-hit"] td[data-cache="hit"]`))); !strings.Contains(txt, "cache hit, saved $0.0011") {
		t.Errorf("the Live page's hit shows %q", txt)
	}
	if n := value(t, ctx, "miss row", chromedp.Evaluate[float64](`document.querySelectorAll('tr[data-request-id="req-cache-miss"] td[data-cache]').length`)); n != 0 {
		t.Errorf("the miss is marked as a cache hit")
	}

	type shown struct {
		Header []string                     `json:"header"`
		Rows   map[string]map[string]string `json:"rows"`
		Total  map[string]string            `json:"total"`
		Text   map[string]string            `json:"text"`
	}
	read := func(what string) shown {
		t.Helper()
		return value(t, ctx, what, chromedp.Evaluate[shown](`(() => {
			const cells = (tr) => Object.fromEntries([...tr.querySelectorAll('td[data-field]')].map((td) => [td.dataset.field, td.dataset.value]));
			const rows = {};
			for (const tr of document.querySelectorAll('#usage-rows tr[data-group]')) rows[tr.dataset.group] = cells(tr);
			const total = document.getElementById('total-row');
			const text = Object.fromEntries([...total.querySelectorAll('td[data-field]')].map((td) => [td.dataset.field, td.textContent]));
			return { header: [...document.querySelectorAll('#usage-table thead th')].map((th) => th.textContent), rows, total: cells(total), text };
		})()`))
	}
	check := func(view string, got shown) {
		t.Helper()
		if h := strings.Join(got.Header, "|"); !strings.HasSuffix(h, "|Cost (USD)|Cache hits|Saved (USD)") {
			t.Errorf("%s: header %q", view, h)
		}
		row := api.Rows[0]
		for name, cells := range map[string]map[string]string{row.Model: got.Rows[row.Model], "total": got.Total} {
			if cells["cache_hits"] != "1" || cells["saved_usd"] != "0.0011" || cells["cost_usd"] != "0.0011" || cells["requests"] != "2" {
				t.Errorf("%s: %s shows %v; the API: 1 hit, saved 0.0011, cost 0.0011, 2 requests", view, name, cells)
			}
		}
		if got.Text["cache_hits"] != "1" || got.Text["saved_usd"] != "$0.0011" {
			t.Errorf("%s: the total row reads %q hits, %q saved", view, got.Text["cache_hits"], got.Text["saved_usd"])
		}
	}
	do("usage page", chromedp.Click(css(`nav a[href="/admin/usage"]`)), chromedp.WaitVisible(css(`body[data-ready="true"] #total-row`)))
	check("per day", read("usage per day"))
	buf := value(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(shots, "usage-cache.png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
	do("per hour", chromedp.SetValue(css(`#bucket`), "hour"), chromedp.Click(css(`#usage-form button[type="submit"]`)),
		chromedp.WaitVisible(css(`body[data-ready="true"] #total-row`)))
	if note := value(t, ctx, "note", chromedp.Text(css(`#usage-note`))); !strings.Contains(note, "UTC hours") {
		t.Fatalf("the per-hour view did not load: %q", note)
	}
	check("per hour", read("usage per hour"))
	w.check(t)
}
