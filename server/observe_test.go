package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/sse"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

const (
	canaryLiveAdmin = "canary-admin-7777"
	canaryMetrics   = "canary-metrics-8888"
)

// startObserved runs the server with env (plus a temp log file, no usage
// store, no demo or discovery) and returns its address and console; it
// stops with the test.
func startObserved(t *testing.T, env ...string) (string, *lockedBuffer) {
	t.Helper()
	dir := t.TempDir()
	console := &lockedBuffer{}
	addrc := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	env = append([]string{"LLMBRIDGE_ADDR=127.0.0.1:0", "LLMBRIDGE_LOG_FILE=" + filepath.Join(dir, "requests.log"), "LLMBRIDGE_DB=off",
		"LLMBRIDGE_DEMO=false", "LLMBRIDGE_DISCOVER_LOCAL=false", "LLMBRIDGE_RETRIES=0"}, env...)
	go func() {
		done <- run(ctx, runOptions{envFile: filepath.Join(dir, ".env"), environ: env, stderr: console, ready: func(a string) { addrc <- a }, poll: time.Hour})
	}()
	select {
	case addr := <-addrc:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server: %v", err)
			}
		})
		return addr, console
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v\n%s", err, console)
	}
	return "", nil
}

func getWith(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	return doWith(t, http.MethodGet, url, "", auth, "")
}

func TestMetricsLiveFeedAndAlertsEndToEnd(t *testing.T) {
	up := testupstream.New(t, testupstream.OpenAI)
	alertc := make(chan map[string]any, 10)
	webhook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		alertc <- m
	}))
	defer webhook.Close()
	cfgFile := filepath.Join(t.TempDir(), "llmbridge.yaml")
	os.WriteFile(cfgFile, []byte(`
providers:
  - {name: up, base_url: "`+up.BaseURL()+`", api_key: sk-upstream-test, models: [m1]}
prices:
  up/m1: {input: 1, output: 2}
alerts:
  interval: 20ms
  webhooks:
    - {name: ops, url: "`+webhook.URL+`/hook/secret"}
  rules:
    - {name: up-failing, kind: error_rate, provider: up, above: 40%, min_requests: 2, window: 1m}
`), 0o600)
	addr, console := startObserved(t, "ACCESS_API_KEYS="+canaryAccess, "LLMBRIDGE_ADMIN_KEY="+canaryLiveAdmin, "LLMBRIDGE_CONFIG="+cfgFile)
	base := "http://" + addr

	if code, _ := getWith(t, base+"/admin/api/live", ""); code != 401 {
		t.Errorf("live feed without the admin key: %d", code)
	}
	if code, _ := getWith(t, base+"/admin/api/live", canaryAccess); code != 401 {
		t.Errorf("live feed with an access key: %d", code)
	}
	ctx, stopFeed := context.WithCancel(context.Background())
	defer stopFeed()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/admin/api/live", nil)
	req.Header.Set("Authorization", "Bearer "+canaryLiveAdmin)
	feed, err := http.DefaultClient.Do(req)
	if err != nil || feed.StatusCode != 200 {
		t.Fatalf("live feed: %v %v", err, feed)
	}
	defer feed.Body.Close()

	post := func() int {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(`{"model":"up/m1","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+canaryAccess)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(); code != 200 {
		t.Fatalf("chat: %d", code)
	}
	up.Enqueue(testupstream.Reply{Status: 500})
	if code := post(); code != 500 {
		t.Fatalf("failing chat: %d", code)
	}

	// The live feed: start and end of each request, in order.
	r := sse.NewReader(feed.Body)
	var got []string
	for len(got) < 4 {
		ev, err := r.Next()
		if err != nil {
			t.Fatalf("feed: %v after %v", err, got)
		}
		var e struct {
			Status  int      `json:"status"`
			CostUSD *float64 `json:"cost_usd"`
			Target  string   `json:"target"`
		}
		json.Unmarshal(ev.Data, &e)
		got = append(got, ev.Name)
		if ev.Name == "end" && e.Status == 200 && (e.CostUSD == nil || *e.CostUSD != (9*1+2*2)/1e6 || e.Target != "up/m1") {
			t.Errorf("end event %s", ev.Data)
		}
	}
	if strings.Join(got, ",") != "start,end,start,end" {
		t.Errorf("feed events %v", got)
	}

	// /metrics from loopback, without a token.
	code, text := getWith(t, base+"/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, text)
	}
	for _, line := range []string{
		`llmbridge_requests_total{format="chat",model="m1",provider="up",status_class="2xx"} 1`,
		`llmbridge_requests_total{format="chat",model="m1",provider="up",status_class="5xx"} 1`,
		`llmbridge_upstream_errors_total{kind="5xx",provider="up"} 1`,
		`llmbridge_tokens_total{model="m1",provider="up",type="prompt"} 9`,
		`llmbridge_cost_usd_total{model="m1",provider="up"} 1.3e-05`,
		`llmbridge_request_log_dropped_total 0`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	if !strings.Contains(text, "go_goroutines ") || !strings.Contains(text, "process_cpu_seconds_total ") {
		t.Error("/metrics lacks the runtime and process collectors")
	}
	if strings.Contains(text, "llmbridge_usage_queue_records") || strings.Contains(text, "key_id") {
		t.Error("/metrics has the usage queue without a store, or key labels without LLMBRIDGE_METRICS_KEY_LABELS")
	}

	// The alert: 1 of 2 requests failed, above 40%.
	select {
	case a := <-alertc:
		if a["status"] != "firing" || a["alert"] != "up-failing" || a["value"] != "50%" {
			t.Errorf("alert %v", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no alert")
	}
	stopFeed()
	for _, secret := range []string{canaryAccess, canaryLiveAdmin, "/hook/secret"} {
		if strings.Contains(console.String(), secret) || strings.Contains(text, secret) {
			t.Errorf("%q leaked", secret)
		}
	}
}

var metricsAt = regexp.MustCompile(`metrics listening"? addr=(http://\S+)`)

func TestMetricsTokenAndOwnListener(t *testing.T) {
	t.Run("token on the main listener", func(t *testing.T) {
		addr, _ := startObserved(t, "LLMBRIDGE_METRICS_TOKEN="+canaryMetrics)
		if code, body := getWith(t, "http://"+addr+"/metrics", ""); code != 401 || strings.Contains(body, canaryMetrics) {
			t.Errorf("without the token: %d %s", code, body)
		}
		if code, _ := getWith(t, "http://"+addr+"/metrics", "wrong"); code != 401 {
			t.Errorf("wrong token: %d", code)
		}
		if code, body := getWith(t, "http://"+addr+"/metrics", canaryMetrics); code != 200 || !strings.Contains(body, "llmbridge_request_log_dropped_total 0") {
			t.Errorf("with the token: %d", code)
		}
	})
	t.Run("own listener", func(t *testing.T) {
		addr, console := startObserved(t, "LLMBRIDGE_METRICS_ADDR=127.0.0.1:0", "LLMBRIDGE_METRICS_KEY_LABELS=true")
		m := metricsAt.FindStringSubmatch(console.String())
		if m == nil {
			t.Fatalf("no metrics listener in the log:\n%s", console)
		}
		if code, body := getWith(t, m[1], ""); code != 200 || !strings.Contains(body, "llmbridge_request_log_dropped_total 0") {
			t.Errorf("own listener: %d", code)
		}
		if code, _ := getWith(t, "http://"+addr+"/metrics", ""); code == 200 {
			t.Error("/metrics still served on the main listener")
		}
	})
}

func TestObserveConfig(t *testing.T) {
	base := map[string]string{"LLMBRIDGE_DB": "off"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	c, err := loadConfig(with("LLMBRIDGE_METRICS_TOKEN", "t0k", "LLMBRIDGE_METRICS_ADDR", "127.0.0.1:9464", "LLMBRIDGE_METRICS_KEY_LABELS", "true"))
	if err != nil || c.MetricsToken != "t0k" || c.MetricsAddr != "127.0.0.1:9464" || !c.MetricsKeyLabels {
		t.Fatalf("%+v %v", c, err)
	}
	_, err = loadConfig(with("LLMBRIDGE_METRICS_ADDR", "9464", "OPENAI_API_KEY", canaryMetrics, "LLMBRIDGE_METRICS_TOKEN", canaryMetrics))
	if err == nil || !strings.Contains(err.Error(), "LLMBRIDGE_METRICS_ADDR") || !strings.Contains(err.Error(), "LLMBRIDGE_METRICS_TOKEN must differ") {
		t.Errorf("errors: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), canaryMetrics) {
		t.Errorf("a key in the error: %v", err)
	}
	cfgFile := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfgFile, []byte("alerts:\n  webhooks: [{name: a, url: \"https://hooks.example/secret\"}]\n  rules: [{name: r, kind: cpu}]\n"), 0o600)
	_, err = loadConfig(with("LLMBRIDGE_CONFIG", cfgFile))
	if err == nil || !strings.Contains(err.Error(), `kind "cpu"`) || strings.Contains(err.Error(), "secret") {
		t.Errorf("alerts errors: %v", err)
	}
}
