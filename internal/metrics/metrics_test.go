package metrics

import (
	"bufio"
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/llmbridge/llmbridge/internal/usage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a Bridge over three fakes — openai, flaky (for cut and cancelled
// streams) and dead (nothing listens) — observed by a Metrics, served over
// HTTP along with /metrics.
type rig struct {
	m           *Metrics
	openai      *testupstream.Server
	flaky       *testupstream.Server
	api, scrape string
	ends        chan llmbridge.UsageRecord
}

func newRig(t *testing.T, o Options) *rig {
	t.Helper()
	r := &rig{openai: testupstream.New(t, testupstream.OpenAI), flaky: testupstream.New(t, testupstream.OpenAI),
		ends: make(chan llmbridge.UsageRecord, 100)}
	prices := usage.DefaultPrices()
	o.Cost = func(rec llmbridge.UsageRecord) (float64, bool) {
		pr, ok := prices.Lookup(rec.Provider, rec.UpstreamModel)
		return pr.Cost(&rec), ok
	}
	r.m = New(o)
	retry := llmbridge.DefaultRetryPolicy()
	retry.MinBackoff, retry.MaxBackoff = time.Millisecond, 2*time.Millisecond
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: r.openai.BaseURL(), APIKey: "sk-upstream-test"})),
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "flaky", BaseURL: r.flaky.BaseURL(), APIKey: "sk-upstream-test", Models: []string{"m1"}})),
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "dead", BaseURL: "http://" + testupstream.DeadAddr(t) + "/v1", APIKey: "k"})),
		llmbridge.WithRetry(retry),
		llmbridge.WithObserver(r.m),
		llmbridge.WithUsageSink(func(rec llmbridge.UsageRecord) { r.ends <- rec }),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	api := httptest.NewServer(b.Handler())
	t.Cleanup(api.Close)
	scrape := httptest.NewServer(Guard(r.m.Handler(), ""))
	t.Cleanup(scrape.Close)
	r.api, r.scrape = api.URL, scrape.URL+"/metrics"
	return r
}

// chat sends one request and reads the whole answer; it returns the status.
func (r *rig) chat(t *testing.T, model string, stream bool) int {
	t.Helper()
	resp := r.post(t, context.Background(), model, stream)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func (r *rig) post(t *testing.T, ctx context.Context, model string, stream bool) *http.Response {
	t.Helper()
	body := `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}],"stream":` + map[bool]string{true: "true", false: "false"}[stream] + `}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.api+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// waitEnds waits until n requests have ended (the observers have run).
func (r *rig) waitEnds(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-r.ends:
		case <-time.After(10 * time.Second):
			t.Fatal("a request did not end")
		}
	}
}

func TestScrapeAfterScriptedTraffic(t *testing.T) {
	r := newRig(t, Options{})
	want := []struct {
		model  string
		stream bool
		script func()
		status int
	}{
		{"openai/gpt-4o", false, nil, 200},
		{"openai/gpt-4o", true, func() {
			r.openai.Enqueue(testupstream.Reply{Content: []string{"Hi"}, Usage: testupstream.Usage{Prompt: 9, Completion: 2}, Delay: 60 * time.Millisecond})
		}, 200},
		{"openai/gpt-4o", false, func() { r.openai.Enqueue(testupstream.Reply{Status: 400}) }, 400},
		{"openai/gpt-4o", false, func() { r.openai.Enqueue(testupstream.Reply{Status: 503}) }, 200}, // retried once
		{"openai/gpt-4o", false, func() {
			r.openai.Enqueue(testupstream.Reply{Status: 429}, testupstream.Reply{Status: 429}, testupstream.Reply{Status: 429})
		}, 429}, // two retries
		{"openai/gpt-4o", false, func() { r.openai.Enqueue(testupstream.Reply{Status: 500}) }, 500}, // not retried
		{"flaky/m1", true, func() { r.flaky.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c"}, CutAfter: 1}) }, 200},
		{"dead/m", false, nil, 502}, // two retries
		{"nope/x", false, nil, 404},
	}
	for i, w := range want {
		if w.script != nil {
			w.script()
		}
		if got := r.chat(t, w.model, w.stream); got != w.status {
			t.Fatalf("request %d (%s): status %d, want %d", i, w.model, got, w.status)
		}
	}
	// A stream the client abandons after its first event.
	r.flaky.Enqueue(testupstream.Reply{Content: []string{"a", "b"}, StallAfter: 1})
	ctx, cancel := context.WithCancel(context.Background())
	resp := r.post(t, ctx, "flaky/m1", true)
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	r.waitEnds(t, len(want)+1)

	const expected = `
# HELP llmbridge_requests_total Requests finished, by the provider that answered (or was tried last), upstream model, client format and status class.
# TYPE llmbridge_requests_total counter
llmbridge_requests_total{format="chat",model="",provider="",status_class="2xx"} 0
llmbridge_requests_total{format="chat",model="",provider="",status_class="4xx"} 1
llmbridge_requests_total{format="chat",model="",provider="",status_class="5xx"} 0
llmbridge_requests_total{format="chat",model="gpt-4o",provider="openai",status_class="2xx"} 3
llmbridge_requests_total{format="chat",model="gpt-4o",provider="openai",status_class="4xx"} 2
llmbridge_requests_total{format="chat",model="gpt-4o",provider="openai",status_class="5xx"} 1
llmbridge_requests_total{format="chat",model="m",provider="dead",status_class="2xx"} 0
llmbridge_requests_total{format="chat",model="m",provider="dead",status_class="4xx"} 0
llmbridge_requests_total{format="chat",model="m",provider="dead",status_class="5xx"} 1
llmbridge_requests_total{format="chat",model="m1",provider="flaky",status_class="2xx"} 1
llmbridge_requests_total{format="chat",model="m1",provider="flaky",status_class="4xx"} 1
llmbridge_requests_total{format="chat",model="m1",provider="flaky",status_class="5xx"} 0
# HELP llmbridge_upstream_errors_total Requests that ended with an upstream failure, by kind: connect, timeout, 4xx, 429, 5xx, stream_cut. Attempts that were retried count in llmbridge_retries_total.
# TYPE llmbridge_upstream_errors_total counter
llmbridge_upstream_errors_total{kind="429",provider="openai"} 1
llmbridge_upstream_errors_total{kind="4xx",provider="openai"} 1
llmbridge_upstream_errors_total{kind="5xx",provider="openai"} 1
llmbridge_upstream_errors_total{kind="connect",provider="dead"} 1
llmbridge_upstream_errors_total{kind="stream_cut",provider="flaky"} 1
# HELP llmbridge_retries_total Upstream attempts after the first (retries and failovers), by the provider of the request.
# TYPE llmbridge_retries_total counter
llmbridge_retries_total{provider="dead"} 2
llmbridge_retries_total{provider="openai"} 3
# HELP llmbridge_active_requests Requests routed and not yet finished.
# TYPE llmbridge_active_requests gauge
llmbridge_active_requests{format="chat",stream="false"} 0
llmbridge_active_requests{format="chat",stream="true"} 0
`
	if err := testutil.ScrapeAndCompare(r.scrape, strings.NewReader(expected),
		"llmbridge_requests_total", "llmbridge_upstream_errors_total", "llmbridge_retries_total", "llmbridge_active_requests"); err != nil {
		t.Error(err)
	}

	// Three answered openai requests of 9 prompt and 2 completion tokens.
	for typ, n := range map[string]float64{"prompt": 27, "completion": 6, "cached": 0, "cache_write": 0, "reasoning": 0} {
		if got := testutil.ToFloat64(r.m.tokens.WithLabelValues("openai", "gpt-4o", typ)); got != n {
			t.Errorf("tokens %s: %v, want %v", typ, got, n)
		}
	}
	// gpt-4o: $2.50 in, $10 out per million.
	if got, want := testutil.ToFloat64(r.m.cost.WithLabelValues("openai", "gpt-4o")), 3*(9*2.5+2*10)/1e6; math.Abs(got-want) > 1e-12 {
		t.Errorf("cost %v, want %v", got, want)
	}
	// The cut stream's usage was estimated: some prompt tokens, no price.
	if got := testutil.ToFloat64(r.m.tokens.WithLabelValues("flaky", "m1", "prompt")); got <= 0 {
		t.Errorf("flaky prompt tokens %v, want > 0 (estimated)", got)
	}
	if got := testutil.ToFloat64(r.m.cost.WithLabelValues("flaky", "m1")); got != 0 {
		t.Errorf("unpriced model cost %v, want 0", got)
	}
}

func TestTTFTHistogramSeesTheUpstreamDelay(t *testing.T) {
	r := newRig(t, Options{})
	const delay = 120 * time.Millisecond
	r.openai.Enqueue(testupstream.Reply{Content: []string{"Hi"}, Usage: testupstream.Usage{Prompt: 9, Completion: 2}, Delay: delay})
	if got := r.chat(t, "openai/gpt-4o", true); got != 200 {
		t.Fatal(got)
	}
	r.chat(t, "openai/gpt-4o", false) // not a stream: no TTFT sample
	r.waitEnds(t, 2)
	text := scrape(t, r.scrape)
	// Buckets up to 0.1 s are empty, the 0.25 s one (and above) holds the
	// sample unless the machine stalled for another 130 ms.
	for _, line := range []string{
		`llmbridge_time_to_first_token_seconds_bucket{format="chat",model="gpt-4o",provider="openai",le="0.05"} 0`,
		`llmbridge_time_to_first_token_seconds_bucket{format="chat",model="gpt-4o",provider="openai",le="0.1"} 0`,
		`llmbridge_time_to_first_token_seconds_bucket{format="chat",model="gpt-4o",provider="openai",le="120"} 1`,
		`llmbridge_time_to_first_token_seconds_count{format="chat",model="gpt-4o",provider="openai"} 1`,
		`llmbridge_request_duration_seconds_count{format="chat",model="gpt-4o",provider="openai"} 2`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("scrape lacks %s", line)
		}
	}
}

func TestModelAndKeyLabelsAreBounded(t *testing.T) {
	m := New(Options{MaxModels: 2, MaxKeys: 1, KeyLabels: true})
	for _, model := range []string{"a", "b", "c", "d", "a"} {
		m.End(llmbridge.UsageRecord{Provider: "p", UpstreamModel: model, Format: "chat", Status: 200, KeyID: "key-" + model, PromptTokens: 1})
	}
	for model, n := range map[string]float64{"a": 2, "b": 1, "other": 2} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues("p", model, "chat", "2xx")); got != n {
			t.Errorf("model %s: %v requests, want %v", model, got, n)
		}
	}
	if n := testutil.CollectAndCount(m.requests); n != 9 { // 3 models × 3 classes
		t.Errorf("%d request series, want 9", n)
	}
	for key, n := range map[string]float64{"key-a": 2, "other": 3} {
		if got := testutil.ToFloat64(m.keyTokens.WithLabelValues(key, "prompt")); got != n {
			t.Errorf("key %s: %v prompt tokens, want %v", key, got, n)
		}
	}
}

func TestKeySeriesOnlyWhenEnabled(t *testing.T) {
	rec := llmbridge.UsageRecord{Provider: "p", UpstreamModel: "m", Format: "chat", Status: 200, KeyID: "key-12345678"}
	off := New(Options{})
	off.End(rec)
	if n, err := testutil.GatherAndCount(off.Registry(), "llmbridge_key_requests_total"); err != nil || n != 0 {
		t.Errorf("key series without KeyLabels: %d (%v)", n, err)
	}
	on := New(Options{KeyLabels: true})
	on.End(rec)
	if got := testutil.ToFloat64(on.keyRequests.WithLabelValues("key-12345678", "2xx")); got != 1 {
		t.Errorf("key requests %v, want 1", got)
	}
}

func TestQueueAndDropCollectorsReadTheirSources(t *testing.T) {
	dropped, queued := int64(7), 3
	m := New(Options{RequestLogDropped: func() int64 { return dropped }, UsageQueue: func() int { return queued }})
	expected := `
# HELP llmbridge_request_log_dropped_total Request log records dropped because the log's queue was full.
# TYPE llmbridge_request_log_dropped_total counter
llmbridge_request_log_dropped_total 7
# HELP llmbridge_usage_queue_records Usage records waiting to be written to the usage store.
# TYPE llmbridge_usage_queue_records gauge
llmbridge_usage_queue_records 3
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(expected), "llmbridge_request_log_dropped_total", "llmbridge_usage_queue_records"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "go_goroutines", "process_start_time_seconds"); err != nil || n < 1 {
		t.Errorf("runtime/process collectors: %d series (%v)", n, err)
	}
}

func TestErrorKind(t *testing.T) {
	for _, c := range []struct {
		name string
		rec  llmbridge.UsageRecord
		want string
	}{
		{"success", llmbridge.UsageRecord{Provider: "p", Status: 200}, ""},
		{"not routed", llmbridge.UsageRecord{Status: 404, ErrorCode: "model_not_found"}, ""},
		{"client went away", llmbridge.UsageRecord{Provider: "p", Status: 499, Error: "the client closed the request"}, ""},
		{"cut stream", llmbridge.UsageRecord{Provider: "p", Status: 200, Error: "closed early", ErrorCode: "upstream_error"}, "stream_cut"},
		{"connect", llmbridge.UsageRecord{Provider: "p", Status: 502, ErrorCode: "upstream_unreachable"}, "connect"},
		{"proxy", llmbridge.UsageRecord{Provider: "p", Status: 502, ErrorCode: "proxy_unreachable"}, "connect"},
		{"timeout", llmbridge.UsageRecord{Provider: "p", Status: 504, ErrorCode: "upstream_timeout"}, "timeout"},
		{"idle before answering", llmbridge.UsageRecord{Provider: "p", Status: 504, ErrorCode: "upstream_idle_timeout"}, "timeout"},
		{"rate limited", llmbridge.UsageRecord{Provider: "p", Status: 429, ErrorCode: "rate_limit_exceeded"}, "429"},
		{"bad request", llmbridge.UsageRecord{Provider: "p", Status: 400}, "4xx"},
		{"server error", llmbridge.UsageRecord{Provider: "p", Status: 503}, "5xx"},
		{"own build failure", llmbridge.UsageRecord{Provider: "p", Status: 500, ErrorCode: "request_build_failed"}, ""},
	} {
		if got := ErrorKind(&c.rec); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestUnauthenticatedCountedApart: requests refused before the caller was
// known count in llmbridge_unauthenticated_requests_total by status, and
// nowhere else: not in the requests, durations or active gauge of the
// traffic served, whatever their format.
func TestUnauthenticatedCountedApart(t *testing.T) {
	m := New(Options{KeyLabels: true})
	for range 3 {
		m.End(llmbridge.UsageRecord{Format: "chat", Method: "POST", Path: "/v1/chat/completions", Status: 401, ErrorCode: "invalid_api_key", Unauthenticated: true})
	}
	m.End(llmbridge.UsageRecord{Format: "messages", Status: 429, ErrorCode: "rate_limit_exceeded", Unauthenticated: true})
	m.End(llmbridge.UsageRecord{Format: "chat", Status: 1000, Unauthenticated: true}) // nonsense stays bounded
	const expected = `
# HELP llmbridge_unauthenticated_requests_total Requests refused before the caller was known, by status: 401 (no key or a wrong one), 429 (a source throttled after failed keys). Not counted in llmbridge_requests_total.
# TYPE llmbridge_unauthenticated_requests_total counter
llmbridge_unauthenticated_requests_total{status="401"} 3
llmbridge_unauthenticated_requests_total{status="429"} 1
llmbridge_unauthenticated_requests_total{status="other"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(expected), "llmbridge_unauthenticated_requests_total"); err != nil {
		t.Error(err)
	}
	for name, c := range map[string]prometheus.Collector{"requests": m.requests, "duration": m.duration, "active": m.active, "key requests": m.keyRequests} {
		if n := testutil.CollectAndCount(c); n != 0 {
			t.Errorf("%s: %d series, want none", name, n)
		}
	}
}

func TestGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "metrics") })
	for _, c := range []struct {
		name, token, remote, host, auth string
		want                            int
	}{
		{"loopback without token", "", "127.0.0.1:5000", "127.0.0.1:1219", "", 200},
		{"ipv6 loopback", "", "[::1]:5000", "[::1]:1219", "", 200},
		{"remote without token", "", "192.0.2.7:5000", "192.0.2.1:1219", "", 403},
		{"token required from loopback too", "s3cret", "127.0.0.1:5000", "127.0.0.1:1219", "", 401},
		{"wrong token", "s3cret", "192.0.2.7:5000", "bridge.example", "Bearer nope", 401},
		{"right token from anywhere", "s3cret", "192.0.2.7:5000", "bridge.example", "Bearer s3cret", 200},
		{"right token under any host", "s3cret", "127.0.0.1:5000", "evil.example", "Bearer s3cret", 200},
		{"not a bearer", "s3cret", "192.0.2.7:5000", "bridge.example", "Basic s3cret", 401},
		// DNS rebinding: the browser is a loopback client, but the Host
		// is the attacker's name.
		{"rebinding: loopback client, foreign host", "", "127.0.0.1:5000", "evil.example:1219", "", 403},
		{"rebinding without port", "", "127.0.0.1:5000", "evil.example", "", 403},
		{"rebinding, ipv6 client", "", "[::1]:5000", "evil.example", "", 403},
		{"localhost subdomain", "", "127.0.0.1:5000", "evil.localhost:1219", "", 403},
		{"name that starts like loopback", "", "127.0.0.1:5000", "127.0.0.1.evil.example", "", 403},
		{"no host", "", "127.0.0.1:5000", "", "", 403},
		{"localhost", "", "127.0.0.1:5000", "localhost:1219", "", 200},
		{"localhost in capitals, no port", "", "127.0.0.1:5000", "LOCALHOST", "", 200},
		{"other 127/8 address", "", "127.0.0.1:5000", "127.8.9.10", "", 200},
		{"ipv6 literal without port", "", "[::1]:5000", "[::1]", "", 200},
	} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr, req.Host = c.remote, c.host
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		rec := httptest.NewRecorder()
		Guard(ok, c.token).ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s: %d, want %d", c.name, rec.Code, c.want)
		}
		if strings.Contains(rec.Body.String(), "s3cret") {
			t.Errorf("%s: the token appears in the answer", c.name)
		}
	}
}

// TestGuardHost: a metrics listener of its own without a token serves any
// client on a network address, but on loopback only requests that name a
// loopback host (DNS rebinding).
func TestGuardHost(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "metrics") })
	for _, c := range []struct {
		name, local, host string
		want              int
	}{
		{"loopback listener, loopback host", "127.0.0.1:9464", "127.0.0.1:9464", 200},
		{"loopback listener, localhost", "127.0.0.1:9464", "localhost:9464", 200},
		{"loopback listener, foreign host", "127.0.0.1:9464", "evil.example:9464", 403},
		{"ipv6 loopback listener, foreign host", "[::1]:9464", "evil.example", 403},
		{"network listener, any host", "10.0.0.5:9464", "bridge.internal:9464", 200},
	} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Host = c.host
		local, err := net.ResolveTCPAddr("tcp", c.local)
		if err != nil {
			t.Fatal(err)
		}
		req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, local))
		rec := httptest.NewRecorder()
		GuardHost(ok).ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s: %d, want %d", c.name, rec.Code, c.want)
		}
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
