package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// uiShots, when set (go test ./server -run TestAdminUIPages -args
// -ui-shots=DIR), is where the page-by-page test writes a PNG of every
// page at both widths, with and without data.
var uiShots = flag.String("ui-shots", "", "write screenshots of every admin page at 1280 and 390 px into this directory")

// axeSource is axe-core (npm, installed by scripts/test.sh, which sets
// LLMBRIDGE_AXE_JS to its axe.min.js). Without it the test skips, or
// fails when LLMBRIDGE_REQUIRE_AXE=1.
func axeSource(t *testing.T) string {
	t.Helper()
	p := os.Getenv("LLMBRIDGE_AXE_JS")
	if p == "" {
		if os.Getenv("LLMBRIDGE_REQUIRE_AXE") == "1" {
			t.Fatal("axe-core is required (LLMBRIDGE_REQUIRE_AXE=1) but LLMBRIDGE_AXE_JS is not set")
		}
		t.Skip("SKIPPING the admin UI accessibility test: set LLMBRIDGE_AXE_JS to axe-core's axe.min.js (npm install axe-core)")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pageCheck is what the browser reports about one page at one width.
type pageCheck struct {
	Broken      []string `json:"broken"`      // words split across lines in a table cell
	Overflow    bool     `json:"overflow"`    // the page is wider than the window
	Unfocusable int      `json:"unfocusable"` // scrolling table regions Tab cannot reach
	Overflowing int      `json:"overflowing"` // table regions with hidden columns
	Hints       int      `json:"hints"`       // of those, how many show the scroll cue
}

// checkPageJS measures a page after two frames (the scroll cue's
// observers have run by then).
const checkPageJS = `new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => {
	const broken = [];
	const walk = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
	for (let n; (n = walk.nextNode());) {
		const cell = n.parentElement.closest('td, th');
		// Free-form text (an error's message, changed fields) may wrap anywhere.
		if (!cell || n.parentElement.closest('tr.detail, td.fields, td.free')) continue;
		for (const m of n.data.matchAll(/\S+/g)) {
			const r = document.createRange();
			r.setStart(n, m.index);
			r.setEnd(n, m.index + m[0].length);
			const tops = new Set([...r.getClientRects()].filter((x) => x.width > 0).map((x) => Math.round(x.top)));
			if (tops.size > 1) broken.push(m[0]);
		}
	}
	const boxes = [...document.querySelectorAll('main .scroll')].filter((b) => b.clientWidth > 0 && !b.closest('details:not([open])'));
	const over = boxes.filter((b) => b.scrollWidth > b.clientWidth + 1);
	done({ broken: broken.slice(0, 12), overflow: document.documentElement.scrollWidth > window.innerWidth + 1,
		unfocusable: over.filter((b) => b.tabIndex < 0).length, overflowing: over.length,
		hints: over.filter((b) => { const h = b.previousElementSibling; return h && h.classList.contains('scroll-hint') && !h.hidden; }).length });
})))`

// axeViolation is one axe-core rule a page breaks.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Nodes  []string `json:"nodes"`
}

const runAxeJS = `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
	.then((r) => ({ passes: r.passes.length, violations: r.violations.map((v) => ({ id: v.id, impact: v.impact || '', nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })) }))`

// axeResult is how many rules a page passes (axe ran) and those it breaks.
type axeResult struct {
	Passes     int            `json:"passes"`
	Violations []axeViolation `json:"violations"`
}

// Issue 35: every page at 1280 and 390 px, without and with data: no
// horizontal page overflow, no word broken across lines in a table cell,
// scrolling tables reachable by keyboard and cued, zero axe-core WCAG
// 2.1 A/AA violations, and the loading, empty and error-with-retry
// states; the charts' labels, ticks, time order, patterns and tables;
// the honest labels (a failed stream, a key over budget, its expiry, the
// limits backend).
func TestAdminUIPagesInChromium(t *testing.T) {
	exe := chromiumPath(t)
	axeJS := axeSource(t)
	up := testupstream.New(t, testupstream.OpenAI)
	up.Key = uiOpenAIKey
	team := testupstream.NewMCPHTTP(t, "team-token-for-the-pages")
	yaml := writeConfig(t, "mcp:\n  servers:\n    - name: team\n      url: "+team.URL+"/mcp\n      headers: {Authorization: \"Bearer ${TEAM_TOOLS_TOKEN}\"}\n")
	addr, console := startObserved(t, "ACCESS_API_KEYS="+uiAccessKey, "OPENAI_API_KEY="+uiOpenAIKey, "OPENAI_BASE_URL="+up.BaseURL(),
		"LLMBRIDGE_ADMIN_KEY="+uiAdminKey, "LLMBRIDGE_DB="+filepath.Join(t.TempDir(), "u.db"),
		"LLMBRIDGE_CONFIG="+yaml, "TEAM_TOOLS_TOKEN=team-token-for-the-pages")
	base := "http://" + addr
	// An expected 404: the route health, where this bridge has none; an
	// expected 409: deleting a team that still has a key (checkTeams).
	w := &browserWatch{allow: func(u string) bool {
		return strings.HasSuffix(u, "/admin/api/health") || strings.Contains(u, "/admin/api/teams/tm_")
	}}
	ctx := longBrowser(t, exe, w, time.Duration(envInt("LLMBRIDGE_UI_TEST_SECONDS", 480))*time.Second)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\nserver log:\n%s", what, err, console)
		}
	}
	// A CSP violation fails the test; sessionStorage's lb-mode makes the
	// next admin API call fail ("fail": a 503) or wait for lbRelease()
	// ("hold"), to see the error and loading states.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
		(() => {
			const real = window.fetch;
			window.fetch = (u, o) => {
				const mode = sessionStorage.getItem('lb-mode');
				if (!mode || !String(u).includes('/admin/api/')) return real(u, o);
				sessionStorage.removeItem('lb-mode');
				if (mode === 'fail') return Promise.resolve(new Response('{"error":{"message":"injected outage"}}', { status: 503 }));
				return new Promise((go) => { window.lbRelease = () => go(real(u, o)); });
			};
		})();`}); err != nil {
		t.Fatal(err)
	}
	do("sign in", chromedp.Navigate(base+"/admin/"), chromedp.WaitVisible(css(`#key`)),
		chromedp.SendKeys(css(`#key`), uiAdminKey+"\r"), chromedp.WaitVisible(css(`#live-table`)))

	pages := []string{"live", "usage", "providers", "prices", "tools", "keys", "teams", "audit", "status"}
	widths := []int{1280, 390}
	sweep := func(pass string, ready map[string]string) {
		t.Helper()
		for _, width := range widths {
			do("viewport", chromedp.EmulateViewport(int64(width), 900))
			for _, p := range pages {
				do(pass+" "+p, chromedp.Navigate(base+"/admin/"+p), chromedp.WaitVisible(css(`body[data-ready="true"] main h1`)),
					chromedp.WaitReady(css(ready[p])))
				where := fmt.Sprintf("%s %s at %d px", pass, p, width)
				began := time.Now()
				c := value(t, ctx, "measure "+where, chromedp.Evaluate[pageCheck](checkPageJS, chromedp.EvalAwaitPromise))
				if c.Overflow {
					t.Errorf("%s: the page is wider than the window", where)
				}
				if len(c.Broken) > 0 {
					t.Errorf("%s: table text broken mid-word: %q", where, c.Broken)
				}
				if c.Unfocusable > 0 || c.Hints != c.Overflowing {
					t.Errorf("%s: %d scrolling tables, %d not focusable, %d with the scroll cue", where, c.Overflowing, c.Unfocusable, c.Hints)
				}
				axeRun := fmt.Sprintf("(() => { if (!window.axe) { %s\n} return %s; })()", axeJS, runAxeJS)
				ax := value(t, ctx, "axe "+where, chromedp.Evaluate[axeResult](axeRun, chromedp.EvalAwaitPromise))
				if ax.Passes < 10 {
					t.Errorf("%s: axe passed only %d rules: did it run?", where, ax.Passes)
				}
				for _, v := range ax.Violations {
					t.Errorf("%s: axe %s (%s) at %v", where, v.ID, v.Impact, v.Nodes)
				}
				t.Logf("%s: measured and axe-checked (%d rules pass) in %v", where, ax.Passes, time.Since(began).Round(time.Millisecond))
				if *uiShots != "" {
					buf := value(t, ctx, "screenshot", chromedp.FullScreenshot(100))
					name := fmt.Sprintf("%s-%s-%d.png", p, pass, width)
					if err := os.WriteFile(filepath.Join(*uiShots, name), buf, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	if *uiShots != "" {
		if err := os.MkdirAll(*uiShots, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// Loading and error-with-retry states, on a table page and on Live.
	for _, p := range []struct{ page, table string }{{"keys", "#keys-rows"}, {"teams", "#teams-rows"}, {"usage", "#usage-rows"}, {"prices", "#prices-table tbody"}} {
		do("hold "+p.page, chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('lb-mode', 'hold')`), chromedp.Navigate(base+"/admin/"+p.page))
		do("loading "+p.page, chromedp.WaitVisible(css(p.table+` tr[data-state-row="loading"]`)))
		do("release "+p.page, chromedp.Evaluate[chromedp.Void](`window.lbRelease()`), chromedp.WaitVisible(css(p.table+` tr[data-state-row="empty"]`)))
		do("fail "+p.page, chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('lb-mode', 'fail')`), chromedp.Navigate(base+"/admin/"+p.page),
			chromedp.WaitVisible(css(p.table+` tr[data-state-row="error"] button.retry`)))
		if msg := value(t, ctx, "error row", chromedp.Text(css(p.table+` tr[data-state-row="error"]`))); !strings.Contains(msg, "injected outage") {
			t.Errorf("%s: the error state reads %q", p.page, msg)
		}
		do("retry "+p.page, chromedp.Click(css(p.table+` button.retry`)), chromedp.WaitVisible(css(p.table+` tr[data-state-row="empty"]`)))
	}
	do("fail live", chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('lb-mode', 'fail')`), chromedp.Navigate(base+"/admin/live"),
		chromedp.WaitVisible(css(`#live-state[data-kind="error"] button.retry`)), chromedp.Click(css(`#live-state button.retry`)),
		chromedp.WaitVisible(css(`#live-state[data-kind="empty"]`)))

	// Without data: every list says it is empty (Audit has the sign-in).
	sweep("empty", map[string]string{
		"live": `#live-state[data-kind="empty"]`, "usage": `#usage-rows tr[data-state-row="empty"]`,
		"providers": `#target-rows tr[data-state-row="empty"]`, "prices": `#prices-table tr[data-state-row="empty"]`,
		"tools": `#call-rows tr[data-state-row="empty"]`, "keys": `#keys-rows tr[data-state-row="empty"]`, "teams": `#teams-rows tr[data-state-row="empty"]`,
		"audit": `#audit-rows tr[data-action="signin"]`, "status": `#limits[data-mode]`,
	})

	seedUIData(t, base, up)

	// With data, in the light and the dark colour scheme.
	withData := map[string]string{
		"live": `#live-rows tr[data-kind]`, "usage": `#usage-rows tr[data-group]`, "providers": `#target-rows tr[data-target]`,
		"prices": `#prices-table tr[data-source="store"]`, "tools": `#call-rows tr[data-tool]`,
		"keys": `#keys-rows tr[data-key-id]`, "teams": `#teams-rows tr[data-team-id]`, "audit": `#audit-rows tr[data-action="price.put"]`, "status": `#limits[data-mode]`,
	}
	sweep("data", withData)
	scheme := func(v string) {
		t.Helper()
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}}); err != nil {
			t.Fatal(err)
		}
	}
	scheme("dark")
	sweep("dark", withData)
	scheme("light")
	do("viewport", chromedp.ResetViewport())
	checkLabels(t, ctx, base)
	checkTeams(t, ctx, base)
	for _, width := range widths {
		do("viewport", chromedp.EmulateViewport(int64(width), 900), chromedp.Navigate(base+"/admin/usage"),
			chromedp.WaitVisible(css(`body[data-ready="true"] #usage-rows tr[data-group]`)))
		checkCharts(t, ctx, width)
		do("hourly", chromedp.SetValue(css(`#bucket`), "hour"), chromedp.Click(css(`#usage-form button[type="submit"]`)),
			chromedp.WaitVisible(css(`body[data-ready="true"] #usage-rows tr[data-group]`)))
		checkCharts(t, ctx, width)
		if *uiShots != "" {
			buf := value(t, ctx, "screenshot", chromedp.FullScreenshot(100))
			if err := os.WriteFile(filepath.Join(*uiShots, fmt.Sprintf("usage-hourly-%d.png", width)), buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.check(t)
}

// seedUIData sends traffic (two models, an upstream error, a stream cut
// short after its 200, a tool call), sets a stored price and makes a key that is over
// its daily budget and expires in three days.
func seedUIData(t *testing.T, base string, up *testupstream.Server) {
	t.Helper()
	chat := func(key, model, id string, stream bool) {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions",
			strings.NewReader(fmt.Sprintf(`{"model":%q,"stream":%v,"messages":[{"role":"user","content":"hi"}]}`, model, stream)))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("X-Request-Id", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for i := range 3 {
		chat(uiAccessKey, "openai/gpt-4o-mini", fmt.Sprintf("req-pages-mini-%d", i), false)
	}
	chat(uiAccessKey, "openai/gpt-4o", "req-pages-4o", false)
	up.Enqueue(testupstream.Reply{Status: 500})
	chat(uiAccessKey, "openai/gpt-4o", "req-pages-500", false)
	up.Enqueue(testupstream.Reply{Content: []string{"one", " two", " three", " four"}, CutAfter: 2})
	chat(uiAccessKey, "openai/gpt-4o", "req-pages-cut", true)
	cs, _ := mcpTools(t, strings.TrimPrefix(base, "http://"), uiAccessKey)
	if res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "team__echo", Arguments: map[string]any{"text": "from the pages test"}}); err != nil || res.IsError {
		t.Fatalf("tool call: %v %+v", err, res)
	}

	if code, body := doWith(t, http.MethodPut, base+"/admin/api/prices/acme/model-x", "", uiAdminKey, `{"input":0.5,"output":1.5}`); code != 200 {
		t.Fatalf("price: %d %s", code, body)
	}
	if code, body := doWith(t, http.MethodPost, base+"/admin/api/teams", "", uiAdminKey, `{"name":"Mobile Platform","rpm":600,"monthly_budget_usd":250}`); code != 201 {
		t.Fatalf("team: %d %s", code, body)
	}
	expires := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
	code, body := doWith(t, http.MethodPost, base+"/admin/api/keys", "", uiAdminKey,
		`{"name":"phone-budget","owner":"ops@example.com","team":"Mobile Platform","daily_budget_usd":0.000001,"expires_at":"`+expires+`"}`)
	if code != 200 && code != 201 {
		t.Fatalf("key: %d %s", code, body)
	}
	var k struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(body), &k); err != nil {
		t.Fatal(err)
	}
	chat(k.Key, "openai/gpt-4o", "req-pages-vk", false)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, list := getWith(t, base+"/admin/api/keys", uiAdminKey)
		if !strings.Contains(list, `"today_usd":0,`) && strings.Contains(list, `"today_usd"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the key's spend was never recorded: %s", list)
		}
	}
}

// checkLabels reads the honest labels: a stream that failed after its
// 200, a key over its budget with its expiry, the limits backend.
func checkLabels(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/live"), chromedp.WaitVisible(css(`tr[data-request-id="req-pages-cut"]`))); err != nil {
		t.Fatal(err)
	}
	cut := value(t, ctx, "cut", chromedp.Text(css(`tr[data-request-id="req-pages-cut"] td.status`)))
	if !strings.Contains(cut, "stream failed") || strings.HasPrefix(strings.TrimSpace(cut), "200") {
		t.Errorf("a stream cut after its 200 reads %q on Live", cut)
	}
	if s := value(t, ctx, "500", chromedp.Text(css(`tr[data-request-id="req-pages-500"] td.status`))); !strings.Contains(s, "error 5") {
		t.Errorf("an upstream error reads %q on Live", s)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/keys"), chromedp.WaitVisible(css(`#keys-rows tr[data-key-id]`))); err != nil {
		t.Fatal(err)
	}
	head := value(t, ctx, "keys head", chromedp.Text(css(`#keys-table thead`)))
	state := value(t, ctx, "key state", chromedp.Text(css(`#keys-rows tr[data-state="over-budget"] .key-state`)))
	if !strings.Contains(head, "Expires") || state != "over daily budget" {
		t.Errorf("keys: header %q, the over-budget key's state %q", head, state)
	}
	if exp := value(t, ctx, "expiry", chromedp.Text(css(`#keys-rows tr[data-state="over-budget"] td:nth-child(5)`))); !strings.Contains(exp, "in 3 days") {
		t.Errorf("the key's expiry reads %q", exp)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/status"), chromedp.WaitVisible(css(`#limits[data-mode]`))); err != nil {
		t.Fatal(err)
	}
	facts := value(t, ctx, "facts", chromedp.Text(css(`dl.facts`)))
	if strings.Contains(facts, "Limits (Redis)") || !strings.Contains(facts, "in this process only") {
		t.Errorf("Status tells the limits backend as %q", facts)
	}
}

// checkTeams drives the Teams page: a team created, edited and deleted
// through its form, a team with a key refused deletion with the reason;
// the key shows its team, and Usage stacks by team and by user.
func checkTeams(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("teams page: %s: %v", what, err)
		}
	}
	row := `#teams-rows tr[data-team="UI Team"]`
	do("create", chromedp.Navigate(base+"/admin/teams"), chromedp.WaitVisible(css(`body[data-ready="true"] #teams-rows tr[data-team-id]`)),
		chromedp.SendKeys(css(`#t-name`), "UI Team"), chromedp.SendKeys(css(`#t-rpm`), "5"), chromedp.Click(css(`#save-team`)), chromedp.WaitVisible(css(row)))
	// A script click: a mouse click lands by coordinates, and the page's
	// message line above the table can still move the row.
	do("edit", chromedp.Evaluate[chromedp.Void](`document.querySelector('`+row+` button[data-action="edit"]').click()`),
		chromedp.WaitVisible(css(`#cancel-team:not([hidden])`)), chromedp.SetValue(css(`#t-monthly`), "10"), chromedp.Click(css(`#save-team`)))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got := value(t, ctx, "edited row", chromedp.Text(css(row)))
		if strings.Contains(got, "of $10.00") && strings.Contains(got, "5 req/min") {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the edited team reads %q", got)
		}
	}
	click := func(sel string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](`document.querySelector('` + sel + `').click()`)
	}
	del := row + ` button[data-action="delete"]`
	do("delete", chromedp.WaitVisible(css(`body[data-ready="true"] `+del)), click(del), click(del), chromedp.WaitNotPresent(css(row)))
	busy := `#teams-rows tr[data-team="Mobile Platform"] button[data-action="delete"]`
	do("delete a team with a key", chromedp.WaitVisible(css(`body[data-ready="true"] `+busy)), click(busy), click(busy))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if msg := value(t, ctx, "message", chromedp.Text(css(`#teams-message`))); strings.Contains(msg, "live key") {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("deleting a team with a key says %q", msg)
		}
	}
	do("keys", chromedp.Navigate(base+"/admin/keys"), chromedp.WaitVisible(css(`#keys-rows td[data-team-id]`)))
	if got := value(t, ctx, "key's team", chromedp.Text(css(`#keys-rows td[data-team-id]`))); got != "Mobile Platform" {
		t.Errorf("the key's team reads %q", got)
	}
	for stack, group := range map[string]string{"team": "Mobile Platform", "user": "ops@example.com"} {
		do("usage by "+stack, chromedp.Navigate(base+"/admin/usage?stack="+stack),
			chromedp.WaitVisible(css(`body[data-ready="true"] #usage-rows tr[data-group="`+group+`"]`)))
	}
}

// chartCheck is what the browser reads off the three usage charts.
type chartCheck struct {
	Small    []string `json:"small"`    // labels rendered under 11 px
	BadTicks []string `json:"badTicks"` // axis ticks that are not round figures
	Order    []string `json:"order"`    // buckets drawn out of time order
	Same     []string `json:"same"`     // charts with two series drawn alike
	NoText   []string `json:"noText"`   // charts without a text alternative
	Series   int      `json:"series"`
}

const checkChartsJS = `(() => {
	const out = { small: [], badTicks: [], order: [], same: [], noText: [], series: 0 };
	for (const id of ['chart-requests', 'chart-tokens', 'chart-cost']) {
		const svg = document.querySelector('#' + id + ' svg');
		const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
		for (const t of svg.querySelectorAll('text')) {
			const px = parseFloat(getComputedStyle(t).fontSize) * scale;
			if (px < 11) out.small.push(id + ' "' + t.textContent + '" ' + px.toFixed(1) + 'px');
		}
		const tick = id === 'chart-cost' ? /^\$(0|[1-9][\d,]*)(\.\d*[1-9]\d*|\.\d\d)?$/ : /^(0|[1-9][\d,]*|\d+(\.\d+)?[kM])$/;
		for (const t of svg.querySelectorAll('text[text-anchor="end"]:not(.axis-title)')) {
			if (!tick.test(t.textContent) || t.textContent === '$0.0') out.badTicks.push(id + ' ' + t.textContent);
		}
		let last = null;
		for (const r of svg.querySelectorAll('rect[data-bucket]')) {
			const x = +r.getAttribute('x');
			if (last && r.dataset.bucket > last.b && x <= last.x) out.order.push(id + ' ' + r.dataset.bucket);
			if (last && r.dataset.bucket < last.b && x >= last.x) out.order.push(id + ' ' + r.dataset.bucket);
			last = { b: r.dataset.bucket, x };
		}
		const fill = new Map();
		for (const r of svg.querySelectorAll('rect[data-series]')) fill.set(r.dataset.series, r.getAttribute('fill'));
		if (new Set(fill.values()).size !== fill.size) out.same.push(id);
		out.series = Math.max(out.series, fill.size);
		const rows = document.querySelectorAll('#' + id + ' details table tbody tr').length;
		if ((svg.getAttribute('aria-label') || '').length < 20 || rows === 0) out.noText.push(id);
	}
	return out;
})()`

func checkCharts(t *testing.T, ctx context.Context, width int) {
	t.Helper()
	c := value(t, ctx, "charts", chromedp.Evaluate[chartCheck](checkChartsJS))
	for what, bad := range map[string][]string{"small label": c.Small, "tick": c.BadTicks, "time order": c.Order,
		"series alike": c.Same, "no text alternative": c.NoText} {
		if len(bad) > 0 {
			t.Errorf("charts at %d px: %s: %q", width, what, bad)
		}
	}
	if c.Series < 2 {
		t.Errorf("charts at %d px: %d series, want the two models", width, c.Series)
	}
}

// longBrowser is browser with a longer deadline: this test visits every
// page at two widths twice and runs axe-core on each.
func longBrowser(t *testing.T, exe string, w *browserWatch, d time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, d)
	stop := func() { cancel(); w.wg.Wait(); cancelBrowser(); cancelAlloc() }
	if err := chromedp.Do(ctx); err != nil {
		stop()
		t.Fatalf("starting Chromium: %v", err)
	}
	w.watch(ctx)
	t.Cleanup(stop)
	return ctx
}

// envInt reads a whole number from the environment, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
