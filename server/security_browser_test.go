package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// Issue 24, item 4, as an attacker does it: in headless Chromium. The
// server runs in open mode (no ACCESS_API_KEYS) with a canary provider
// key, and web pages try to spend that key.

const openModeProviderKey = "sk-canary-openmode-provider-4444"

// openModeChat is the chat request every attack sends.
const openModeChat = `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"sent by a web page"}]}`

// simpleRequests are the cross-origin POSTs a page can send without a
// CORS preflight (the ?case= names them), and what the bridge must
// answer each: 415, never the upstream's answer.
var simpleRequests = []string{
	"no-cors-text-plain",        // fetch, Content-Type: text/plain
	"no-cors-json-type-dropped", // fetch asks for application/json; no-cors drops it, text/plain;charset=UTF-8 goes
	"no-cors-urlencoded",        // fetch, application/x-www-form-urlencoded
	"no-cors-multipart",         // fetch with FormData, multipart/form-data
	"no-cors-untyped-blob",      // fetch with a Blob of no type: no Content-Type at all
	"beacon-text-plain",         // navigator.sendBeacon with a string
	"form-text-plain",           // an auto-submitted <form enctype="text/plain">
}

// attackerPage is a page on another origin that fires every simple
// request at bridge on load; window.attack settles when they have, with
// all the page could learn.
func attackerPage(bridge string) string {
	target, _ := json.Marshal(bridge + "/v1/chat/completions")
	body, _ := json.Marshal(openModeChat)
	// The form's one field makes a JSON body: name + "=" + value.
	name, value := strings.TrimSuffix(openModeChat, "}")+`,"pad":"`, `"}`
	return `<!doctype html><meta charset="utf-8"><title>attacker</title>
<iframe name="sink"></iframe>
<form id="f" method="POST" enctype="text/plain" target="sink" action="` + bridge + `/v1/chat/completions?case=form-text-plain">
<input type="hidden" name='` + name + `' value='` + value + `'>
</form>
<script>
const target = ` + string(target) + `, body = ` + string(body) + `;
async function send(name, init) {
  try {
    const r = await fetch(target + '?case=' + name, Object.assign({method: 'POST'}, init));
    let text;
    try { text = await r.text(); } catch (e) { text = 'unreadable: ' + e; }
    return {name, type: r.type, status: r.status, text, headers: [...r.headers].join('; ')};
  } catch (e) {
    return {name, error: String(e)};
  }
}
window.attack = (async () => {
  const fd = new FormData();
  fd.append('model', 'openai/gpt-4o');
  fd.append('messages', '[{"role":"user","content":"x"}]');
  const formDone = new Promise((resolve) => {
    const sink = document.querySelector('iframe[name=sink]');
    const t = setTimeout(() => resolve('no load event'), 5000);
    sink.onload = () => {
      clearTimeout(t);
      let seen;
      try { seen = sink.contentDocument === null ? 'null' : sink.contentDocument.documentElement.outerHTML; }
      catch (e) { seen = 'unreadable: ' + e; }
      resolve(seen);
    };
  });
  document.getElementById('f').submit();
  const beacon = navigator.sendBeacon(target + '?case=beacon-text-plain', body);
  const results = await Promise.all([
    send('no-cors-text-plain', {mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body}),
    send('no-cors-json-type-dropped', {mode: 'no-cors', headers: {'Content-Type': 'application/json'}, body}),
    send('no-cors-urlencoded', {mode: 'no-cors', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body}),
    send('no-cors-multipart', {mode: 'no-cors', body: fd}),
    send('no-cors-untyped-blob', {mode: 'no-cors', body: new Blob([body])}),
    send('cors-json', {mode: 'cors', headers: {'Content-Type': 'application/json'}, body}),
  ]);
  return {beacon, form: await formDone, results, page: document.documentElement.outerHTML};
})();
</script>`
}

// bridgeTraffic is what the browser itself saw of its requests to the
// bridge, by ?case=: more than the page may read (opaque responses keep
// their status and body here).
type bridgeTraffic struct {
	mu     sync.Mutex
	prefix string
	byID   map[network.RequestID]*bridgeRequest
	change chan struct{}
}

type bridgeRequest struct {
	id          network.RequestID
	caseName    string
	method      string
	contentType string // "" when the request had none
	status      int64  // 0 until a response
	headers     string
	finished    bool
	failed      string // the error text when it failed
	cors        bool   // failed for CORS
}

func watchBridge(t *testing.T, ctx context.Context, bridge string) *bridgeTraffic {
	t.Helper()
	b := &bridgeTraffic{prefix: bridge + "/v1/chat/completions?case=", byID: map[network.RequestID]*bridgeRequest{}, change: make(chan struct{}, 1)}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			c, ok := strings.CutPrefix(ev.Request.URL, b.prefix)
			if !ok {
				return
			}
			r := &bridgeRequest{id: ev.RequestID, caseName: c, method: ev.Request.Method}
			for k, v := range ev.Request.Headers {
				if strings.EqualFold(k, "Content-Type") {
					r.contentType = fmt.Sprint(v)
				}
			}
			b.byID[ev.RequestID] = r
		case *network.EventResponseReceived:
			if r := b.byID[ev.RequestID]; r != nil && ev.Response != nil {
				r.status = ev.Response.Status
				h, _ := json.Marshal(ev.Response.Headers)
				r.headers = string(h)
			}
		case *network.EventLoadingFinished:
			if r := b.byID[ev.RequestID]; r != nil {
				r.finished = true
			}
		case *network.EventLoadingFailed:
			if r := b.byID[ev.RequestID]; r != nil {
				r.finished, r.failed, r.cors = true, ev.ErrorText, ev.CorsErrorStatus != nil
			}
		default:
			return
		}
		select {
		case b.change <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wait returns the requests of the cases once each has ended, or fails
// the test at ctx's end.
func (b *bridgeTraffic) wait(t *testing.T, ctx context.Context, cases ...string) map[string]bridgeRequest {
	t.Helper()
	for {
		b.mu.Lock()
		got := map[string]bridgeRequest{}
		for _, r := range b.byID {
			if r.method == http.MethodPost && r.finished {
				got[r.caseName] = *r
			}
		}
		b.mu.Unlock()
		var missing []string
		for _, c := range cases {
			if _, ok := got[c]; !ok {
				missing = append(missing, c)
			}
		}
		if len(missing) == 0 {
			return got
		}
		select {
		case <-b.change:
		case <-ctx.Done():
			t.Fatalf("the browser did not finish %v: %v", missing, ctx.Err())
		}
	}
}

// browserWithFlags is browser (ui_test.go) with more Chromium options;
// w may be nil (no watch).
func browserWithFlags(t *testing.T, exe string, w *browserWatch, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	stop := func() {
		cancel()
		if w != nil {
			w.wg.Wait()
		}
		cancelBrowser()
		cancelAlloc()
	}
	if err := chromedp.Do(ctx); err != nil {
		stop()
		t.Fatalf("starting Chromium: %v", err)
	}
	if w != nil {
		w.watch(ctx)
	}
	t.Cleanup(stop)
	return ctx
}

func TestOpenModeRefusesWebPagesInChromium(t *testing.T) {
	exe := chromiumPath(t)
	up := testupstream.New(t, testupstream.OpenAI)
	up.Key = openModeProviderKey // the fake answers 200 only to the real provider key
	addr, console := startObserved(t, "OPENAI_API_KEY="+openModeProviderKey, "OPENAI_BASE_URL="+up.BaseURL(),
		"LLMBRIDGE_DB="+filepath.Join(t.TempDir(), "usage.db"))
	bridge := "http://" + addr
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	upstreamCalls := func() int { return len(up.Requests()) - up.ModelListRequests() } // the bridge's own list fetches aside
	noCanary := func(where, s string) {
		t.Helper()
		if strings.Contains(s, openModeProviderKey) {
			t.Errorf("the provider key is in %s", where)
		}
	}

	t.Run("cross-origin simple requests", func(t *testing.T) {
		attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, attackerPage(bridge))
		}))
		defer attacker.Close()
		if attacker.URL == bridge {
			t.Fatal("the attacker must be another origin")
		}
		// The browser logs the refusals: "Failed to load resource" under
		// the bridge's URL, the CORS error under the page's. Anything else
		// (an exception, console.error, a request off loopback) fails the
		// test.
		w := &browserWatch{allow: func(u string) bool {
			return strings.HasPrefix(u, bridge+"/") || u == attacker.URL+"/"
		}}
		ctx := browser(t, exe, w)
		traffic := watchBridge(t, ctx, bridge)
		actx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(actx, chromedp.Navigate(attacker.URL+"/")); err != nil {
			t.Fatalf("attacker page: %v", err)
		}
		type fetchResult struct {
			Name, Type, Text, Headers, Error string
			Status                           int
		}
		var seen struct {
			Beacon  bool
			Form    string
			Results []fetchResult
			Page    string
		}
		raw, err := chromedp.Run(actx, chromedp.Evaluate[[]byte](`window.attack`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("attack: %v", err)
		}
		if err := json.Unmarshal(raw, &seen); err != nil {
			t.Fatalf("attack result %s: %v", raw, err)
		}
		got := traffic.wait(t, actx, append(simpleRequests, "cors-json")...)
		t.Logf("the page saw: beacon queued %v, form frame %q", seen.Beacon, seen.Form)

		// Each simple request reached the bridge and was refused as not
		// JSON, before anything went upstream.
		for _, c := range simpleRequests {
			r := got[c]
			t.Logf("%s: Content-Type %q -> %d %s", c, r.contentType, r.status, r.failed)
			if r.status != http.StatusUnsupportedMediaType {
				t.Errorf("%s (Content-Type %q): the bridge answered %d %s, want 415", c, r.contentType, r.status, r.failed)
			}
			noCanary(c+"'s response headers", r.headers)
			// The browser keeps the body of the form's document; of the
			// opaque fetches (blocked by ORB) and the beacon it keeps none.
			body, err := chromedp.Call(actx, network.GetResponseBody, network.GetResponseBodyParams{RequestID: r.id})
			switch {
			case err != nil || len(body.Body) == 0:
				if c == "form-text-plain" {
					t.Errorf("%s: no body from the browser: %v", c, err)
				}
			case !strings.Contains(string(body.Body), `"code":"unsupported_media_type"`):
				t.Errorf("%s: body %s", c, body.Body)
			default:
				noCanary(c+"'s response body", string(body.Body))
			}
		}
		if ct := got["no-cors-untyped-blob"].contentType; ct != "" {
			t.Errorf("the untyped Blob went with Content-Type %q; the case needs none", ct)
		}
		if ct := got["no-cors-json-type-dropped"].contentType; !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("the no-cors JSON type went as %q", ct)
		}
		// A JSON request needs a preflight, which the bridge (no CORS
		// origins in open mode) does not grant: the browser never sends it.
		if r := got["cors-json"]; r.status != 0 || !r.cors {
			t.Errorf("cors-json: status %d, failed %q (CORS %v); want blocked by the preflight", r.status, r.failed, r.cors)
		}
		for _, r := range seen.Results {
			switch {
			case r.Name == "cors-json":
				if !strings.Contains(r.Error, "TypeError") {
					t.Errorf("the page's CORS fetch did not fail: %+v", r)
				}
			case r.Error != "":
				t.Errorf("%s: fetch failed in the page: %s", r.Name, r.Error)
			case r.Type != "opaque" || r.Status != 0 || r.Text != "":
				t.Errorf("%s: the page read %+v", r.Name, r)
			}
		}
		if len(seen.Results) != 6 {
			t.Errorf("%d fetch results", len(seen.Results))
		}
		noCanary("what the page read", string(raw))
		if n := upstreamCalls(); n != 0 {
			t.Errorf("%d requests from the web page reached the upstream with the provider key", n)
		}
		w.check(t)
	})

	t.Run("DNS rebinding", func(t *testing.T) {
		// evil.example resolves to 127.0.0.1, as after a rebinding: the
		// page's origin is evil.example, its requests same-origin, and its
		// requests name Host: evil.example.
		ctx := browserWithFlags(t, exe, nil, chromedp.Flag("host-resolver-rules", "MAP evil.example 127.0.0.1"))
		before := upstreamCalls()
		chat := func(origin string) (status int, code, text string) {
			t.Helper()
			sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			doc, err := chromedp.Run(sctx, chromedp.NavigateResponse(origin+"/v1/models"))
			if err != nil {
				t.Fatalf("%s: %v", origin, err)
			}
			t.Logf("%s/v1/models: %d", origin, doc.Status)
			type answer struct {
				Origin, Text string
				Status       int
			}
			res, err := chromedp.Run(sctx, chromedp.Evaluate[answer](`fetch('/v1/chat/completions', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: `+jsString(openModeChat)+`})
				.then(async (r) => ({Origin: location.origin, Status: r.status, Text: await r.text()}))`, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("fetch from %s: %v", origin, err)
			}
			if res.Origin != origin {
				t.Fatalf("the page's origin is %s, want %s", res.Origin, origin)
			}
			var e struct {
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			_ = json.Unmarshal([]byte(res.Text), &e)
			noCanary("the answer to "+origin, res.Text)
			return res.Status, e.Error.Code, res.Text
		}

		evil := "http://evil.example:" + port
		if st, code, text := chat(evil); st != http.StatusForbidden || code != "host_not_allowed" {
			t.Errorf("a page at %s read %d %s, want 403 host_not_allowed", evil, st, text)
		}
		if n := upstreamCalls() - before; n != 0 {
			t.Errorf("%d requests from %s reached the upstream", n, evil)
		}

		// The same page under a loopback name is served: the rule, not a
		// dead bridge, stopped evil.example.
		local := "http://localhost:" + port
		beforeLocal := upstreamCalls()
		if st, _, text := chat(local); st != http.StatusOK || !strings.Contains(text, "Hello world") {
			t.Errorf("a page at %s read %d %s, want 200", local, st, text)
		}
		var reqs []testupstream.Request // the chat requests, the bridge's own list fetches aside
		for _, r := range up.Requests() {
			if r.Path != "/v1/models" {
				reqs = append(reqs, r)
			}
		}
		reqs = reqs[beforeLocal:]
		if len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer "+openModeProviderKey {
			t.Errorf("the upstream got %d requests from %s, want 1 with the provider key", len(reqs), local)
		}
	})
	noCanary("the server's console", console.String())
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
