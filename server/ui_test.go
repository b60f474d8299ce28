package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

const (
	uiAdminKey  = "canary-ui-admin-9191"
	uiAccessKey = "sk-canary-ui-access-9292"
	uiOpenAIKey = "sk-canary-ui-openai-9393"
)

// chromiumPath finds a Chromium to drive, or skips the test (fails it
// when LLMBRIDGE_REQUIRE_CHROMIUM=1, as scripts/test.sh sets).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("LLMBRIDGE_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("Chromium is required (LLMBRIDGE_REQUIRE_CHROMIUM=1) but not installed: apt-get install chromium")
	}
	t.Skip("SKIPPING the admin UI browser tests: no chromium on PATH (apt-get install chromium)")
	return ""
}

// artifacts is where screenshots go: $TEST_ARTIFACTS/<test>, or a temp dir.
func artifacts(t *testing.T) string {
	dir := t.TempDir()
	if a := os.Getenv("TEST_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// browserWatch collects what must fail the test: console errors,
// uncaught exceptions, CSP violations (console errors, see the script
// the test adds to every page) and requests to other hosts.
type browserWatch struct {
	mu       sync.Mutex
	problems []string
	requests int
	allow    func(url string) bool // a network error the test expects
	wg       sync.WaitGroup
}

func (b *browserWatch) add(format string, args ...any) {
	b.mu.Lock()
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
	b.mu.Unlock()
}

// watch ranges over ctx's tab events until ctx ends; wait for b.wg after.
func (b *browserWatch) watch(ctx context.Context) {
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	logs := chromedp.Events(ctx, cdplog.EntryAdded)
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	b.wg.Go(func() {
		for e, err := range console {
			if err != nil {
				return
			}
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.add("console.%s: %s", e.Type, strings.Join(args, " "))
			}
		}
	})
	b.wg.Go(func() {
		for e, err := range exceptions {
			if err != nil {
				return
			}
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.add("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, msg)
		}
	})
	b.wg.Go(func() {
		for e, err := range logs {
			if err != nil {
				return
			}
			if e.Entry.Level == cdplog.EntryLevelError && !(b.allow != nil && b.allow(e.Entry.URL)) {
				b.add("log %s: %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL)
			}
		}
	})
	b.wg.Go(func() {
		for e, err := range requests {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.requests++
			b.mu.Unlock()
			u, perr := url.Parse(e.Request.URL)
			if perr != nil {
				b.add("unparsable request URL %q", e.Request.URL)
				continue
			}
			switch u.Scheme {
			case "data", "blob", "about":
				continue
			}
			if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
				b.add("request to a non-loopback host: %s", e.Request.URL)
			}
		}
	})
}

func (b *browserWatch) check(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Error(p)
	}
	b.problems = nil
	if b.requests == 0 {
		t.Error("the network watch saw no request at all")
	}
}

// usageTotals is the admin API's usage report grouped by model.
type usageRow struct {
	Model            string   `json:"model"`
	Requests         int64    `json:"requests"`
	Errors           int64    `json:"errors"`
	PromptTokens     int64    `json:"prompt_tokens"`
	CompletionTokens int64    `json:"completion_tokens"`
	CachedTokens     int64    `json:"cached_tokens"`
	CostUSD          *float64 `json:"cost_usd"`
}

func TestAdminUIInChromium(t *testing.T) {
	exe := chromiumPath(t)
	shots := artifacts(t)
	up := testupstream.New(t, testupstream.OpenAI)
	up.Key = uiOpenAIKey
	addr, console := startObserved(t, "ACCESS_API_KEYS="+uiAccessKey, "OPENAI_API_KEY="+uiOpenAIKey, "OPENAI_BASE_URL="+up.BaseURL(),
		"LLMBRIDGE_ADMIN_KEY="+uiAdminKey, "LLMBRIDGE_DB="+filepath.Join(t.TempDir(), "u.db"))
	base := "http://" + addr

	// The bridge answers /admin/api/health only once the routing work
	// lands; until then the Providers page's probe is an expected 404.
	healthCode, _ := getWith(t, base+"/admin/api/health", uiAdminKey)
	w := &browserWatch{allow: func(u string) bool {
		return healthCode == http.StatusNotFound && strings.HasSuffix(u, "/admin/api/health")
	}}

	ctx := browser(t, exe, w)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\nserver log:\n%s", what, err, console)
		}
	}
	shot := func(name string) {
		t.Helper()
		buf := value(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	// A CSP violation becomes a console error, which fails the test.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `document.addEventListener('securitypolicyviolation',
			(e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))`}); err != nil {
		t.Fatal(err)
	}

	// Sign in with Enter in the password field; a wrong key first.
	do("sign-in page", chromedp.Navigate(base+"/admin/"), chromedp.WaitVisible(css(`#key`)))
	if typ := value(t, ctx, "key type", chromedp.AttributeValue(css(`#key`), "type")); typ.Value != "password" {
		t.Fatalf("the key field is type %q", typ.Value)
	}
	shot("0-sign-in")
	do("wrong key", chromedp.SendKeys(css(`#key`), "not-the-key"+kb.Enter), chromedp.WaitVisible(css(`#signin-error`)))
	do("sign in", chromedp.SendKeys(css(`#key`), uiAdminKey+kb.Enter), chromedp.WaitVisible(css(`#live-table`)),
		chromedp.WaitVisible(css(`#feed-state[data-state="connected"]`)))

	// A request through the bridge shows on Live within a second.
	chat := func(key, model, reqID string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("X-Request-Id", reqID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := chat(uiAccessKey, "openai/gpt-4o", "req-ui-live-1"); got != 200 {
		t.Fatalf("chat: %d", got)
	}
	answered := time.Now()
	wctx, wcancel := context.WithTimeout(ctx, time.Second)
	err := chromedp.Do(wctx, chromedp.WaitVisible(css(`tr[data-request-id="req-ui-live-1"][data-kind="ok"]`)))
	wcancel()
	if err != nil {
		t.Fatalf("the request did not appear on Live within 1 s: %v", err)
	}
	t.Logf("the request was on Live %v after its response", time.Since(answered).Round(time.Millisecond))

	// An upstream error is a highlighted row whose details expand.
	up.Enqueue(testupstream.Reply{Status: 500})
	if got := chat(uiAccessKey, "openai/gpt-4o", "req-ui-err-1"); got < 500 {
		t.Fatalf("upstream 500 answered %d", got)
	}
	do("error row", chromedp.WaitVisible(css(`tr.err[data-request-id="req-ui-err-1"]`)),
		chromedp.Click(css(`tr[data-request-id="req-ui-err-1"] button`)), chromedp.WaitVisible(css(`tr.err[data-request-id="req-ui-err-1"] + tr.detail`)))
	if detail := value(t, ctx, "details", chromedp.Text(css(`tr.err[data-request-id="req-ui-err-1"] + tr.detail`))); !strings.Contains(detail, "req-ui-err-1") {
		t.Errorf("error details %q lack the request id", detail)
	}
	shot("1-live")

	// Scripted traffic, then the Usage page must equal the admin API.
	for i := range 3 {
		chat(uiAccessKey, "openai/gpt-4o-mini", fmt.Sprintf("req-ui-mini-%d", i))
	}
	var api struct {
		Rows   []usageRow `json:"rows"`
		Totals usageRow   `json:"totals"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := getWith(t, base+"/admin/api/usage?group_by=model", uiAdminKey)
		if code != 200 {
			t.Fatalf("usage API: %d %s", code, body)
		}
		api.Rows = nil
		if err := json.Unmarshal([]byte(body), &api); err != nil {
			t.Fatal(err)
		}
		if api.Totals.Requests >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the usage store never counted 5 requests: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	type usageShown struct {
		Rows   map[string]map[string]string `json:"rows"`
		Total  map[string]string            `json:"total"`
		Bars   float64                      `json:"bars"`
		Series []string                     `json:"series"`
	}
	do("usage page", chromedp.Click(css(`nav a[href="/admin/usage"]`)), chromedp.WaitVisible(css(`body[data-ready="true"] #total-row`)),
		chromedp.WaitVisible(css(`#price-note:not(:empty)`))) // the prices' sources and age (/admin/api/prices)
	shown := value(t, ctx, "usage numbers", chromedp.Evaluate[usageShown](`(() => {
			const cells = (tr) => Object.fromEntries([...tr.querySelectorAll('td[data-field]')].map((td) => [td.dataset.field, td.dataset.value]));
			const rows = {};
			for (const tr of document.querySelectorAll('#usage-rows tr[data-group]')) rows[tr.dataset.group] = cells(tr);
			let bars = 0;
			for (const r of document.querySelectorAll('#chart-requests rect[data-value]')) bars += +r.dataset.value;
			return { rows, total: cells(document.getElementById('total-row')), bars,
				series: [...new Set([...document.querySelectorAll('#chart-cost rect')].map((r) => r.dataset.series))] };
		})()`))
	if len(shown.Rows) != len(api.Rows) {
		t.Errorf("usage table has %d models, the API %d: %v", len(shown.Rows), len(api.Rows), shown.Rows)
	}
	same := func(what, got string, want float64) {
		t.Helper()
		var g float64
		if _, err := fmt.Sscan(got, &g); err != nil || math.Abs(g-want) > 1e-9 {
			t.Errorf("%s: UI %q, API %v", what, got, want)
		}
	}
	check := func(name string, ui map[string]string, r usageRow) {
		t.Helper()
		same(name+" requests", ui["requests"], float64(r.Requests))
		same(name+" errors", ui["errors"], float64(r.Errors))
		same(name+" prompt", ui["prompt_tokens"], float64(r.PromptTokens))
		same(name+" completion", ui["completion_tokens"], float64(r.CompletionTokens))
		if r.CostUSD != nil {
			same(name+" cost", ui["cost_usd"], *r.CostUSD)
		}
	}
	for _, r := range api.Rows {
		check(r.Model, shown.Rows[r.Model], r)
	}
	check("total", shown.Total, api.Totals)
	if shown.Bars != float64(api.Totals.Requests) {
		t.Errorf("the requests chart's bars sum to %v, the API says %d", shown.Bars, api.Totals.Requests)
	}
	if api.Totals.CostUSD == nil || *api.Totals.CostUSD == 0 || len(shown.Series) != 2 {
		t.Errorf("the cost chart is not stacked by the two priced models: series %v, API cost %v", shown.Series, api.Totals.CostUSD)
	}
	shot("2-usage")

	do("providers page", chromedp.Click(css(`nav a[href="/admin/providers"]`)),
		chromedp.WaitVisible(css(`body[data-ready="true"] #target-rows tr[data-target="openai/gpt-4o"]`)),
		chromedp.WaitVisible(css(`#provider-table tr[data-provider="openai"]`)),
		chromedp.WaitVisible(css(`#price-rows tr[data-model="openai/gpt-4o"]`))) // with its source and age (/admin/api/prices)
	shot("3-providers")

	// Create a key: its secret works once shown; revoked, it stops.
	do("create key", chromedp.Click(css(`nav a[href="/admin/keys"]`)), chromedp.WaitVisible(css(`body[data-ready="true"] #key-form`)),
		chromedp.SendKeys(css(`#k-name`), "ui-test-key"), chromedp.SendKeys(css(`#k-daily`), "5"), chromedp.Click(css(`#save-key`)),
		chromedp.WaitVisible(css(`#secret-box`)), chromedp.WaitVisible(css(`#keys-rows tr[data-state="active"]`)))
	secret := value(t, ctx, "secret", chromedp.Value(css(`#key-secret`)))
	if secret == "" {
		t.Fatal("no secret shown")
	}
	// A new key is seen by every replica's admitter within a second (it
	// polls the store's key version), this one included.
	got := 0
	for deadline := time.Now().Add(2 * time.Second); got != 200 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got = chat(secret, "openai/gpt-4o", "req-ui-vk-1")
	}
	if got != 200 {
		t.Errorf("the new key's request: %d", got)
	}
	shot("4-keys-created")
	do("revoke key", chromedp.Click(css(`#keys-rows tr[data-state="active"] button[data-action="revoke"]`)),
		chromedp.WaitVisible(css(`#keys-rows button[data-confirm="true"]`)), chromedp.Click(css(`#keys-rows button[data-confirm="true"]`)),
		chromedp.WaitVisible(css(`#keys-rows tr[data-state="revoked"]`)))
	deadline = time.Now().Add(3 * time.Second)
	for chat(secret, "openai/gpt-4o", "req-ui-vk-2") != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("the revoked key still works")
		}
		time.Sleep(50 * time.Millisecond)
	}
	shot("5-keys-revoked")

	do("status page", chromedp.Click(css(`nav a[href="/admin/status"]`)), chromedp.WaitVisible(css(`body[data-ready="true"] #config-table`)))
	statusHTML := value(t, ctx, "status html", chromedp.OuterHTML(css("html")))
	for _, s := range []string{uiAdminKey, uiAccessKey, uiOpenAIKey, secret} {
		if strings.Contains(statusHTML, s) {
			t.Errorf("the Status page shows a secret")
		}
	}
	shot("6-status")

	// Phone width: no page wider than the screen.
	for _, p := range []string{"live", "usage", "keys", "providers", "status"} {
		do("phone "+p, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Navigate(base+"/admin/"+p),
			chromedp.WaitVisible(css(`body[data-ready="true"] main h1`)))
		if over := value(t, ctx, "width", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); over {
			t.Errorf("%s is wider than a 390 px screen", p)
		}
		shot("7-phone-" + p)
	}
	do("desktop", chromedp.ResetViewport())

	// Keyboard: Tab from the top reaches the skip link, then the navigation.
	do("keyboard", chromedp.Navigate(base+"/admin/usage"), chromedp.WaitVisible(css(`main h1`)), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Tab))
	if focused := value(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.getAttribute('href')`)); focused != "/admin/live" {
		t.Errorf("the second Tab focuses %q, want the Live link", focused)
	}

	// Sign out: the pages are the sign-in form again, and the session's
	// cookie no longer opens the API.
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/admin/"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cookies.Cookies) != 1 || !cookies.Cookies[0].HTTPOnly || cookies.Cookies[0].SameSite != network.CookieSameSiteStrict {
		t.Fatalf("session cookies %+v", cookies.Cookies)
	}
	do("sign out", chromedp.Click(css(`#sign-out`)), chromedp.WaitVisible(css(`#key`)), chromedp.Navigate(base+"/admin/keys"), chromedp.WaitVisible(css(`#key`)))
	req, _ := http.NewRequest(http.MethodGet, base+"/admin/api/keys", nil)
	req.AddCookie(&http.Cookie{Name: cookies.Cookies[0].Name, Value: cookies.Cookies[0].Value})
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Error(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("after sign-out the session cookie still opens the API: %d", resp.StatusCode)
		}
	}
	w.check(t)
	if log := console.String(); !strings.Contains(log, "admin UI sign-in refused") || strings.Contains(log, "not-the-key") {
		t.Errorf("the wrong key's attempt is not logged, or logged with the key")
	}
}

// browser starts headless Chromium (exe) in a 1280×900 window for the
// test, with w watching its tab; it is stopped (and w's watchers waited
// for) when the test ends, or within a minute.
func browser(t *testing.T, exe string, w *browserWatch) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	stop := func() { cancel(); w.wg.Wait(); cancelBrowser(); cancelAlloc() }
	if err := chromedp.Do(ctx); err != nil {
		stop()
		t.Fatalf("starting Chromium: %v", err)
	}
	w.watch(ctx)
	t.Cleanup(stop)
	return ctx
}

// value runs an action that returns a value, failing the test on error.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}
