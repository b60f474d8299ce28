package llmbridge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// fakeClock never sleeps; it records the waits asked of it.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.slept = append(f.slept, d)
	f.now = f.now.Add(d)
	f.mu.Unlock()
	return ctx.Err()
}

func (f *fakeClock) waits() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.slept...)
}

// clocked builds a Bridge over one fake OpenAI upstream whose attempt loop
// runs on a fake clock.
func clocked(t *testing.T, pol RetryPolicy) (*Bridge, *testupstream.Server, *fakeClock) {
	t.Helper()
	up := testupstream.New(t, testupstream.OpenAI)
	b, err := New(WithProvider(OpenAI(ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})), WithRetry(pol))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	clk := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	b.clock = clk
	return b, up, clk
}

func post(b *Bridge, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	b.ServeHTTP(rec, req)
	return rec
}

const chatBody = `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}]}`

func TestAttemptLoopHonoursRetryAfter(t *testing.T) {
	b, up, clk := clocked(t, RetryPolicy{Max: 2, MinBackoff: time.Second, MaxBackoff: time.Minute, MaxRetryAfter: 10 * time.Second})
	up.Enqueue(testupstream.Reply{Status: 503, RetryAfter: "3"}, testupstream.Reply{Status: 429, RetryAfter: "1.5"})
	if rec := post(b, chatBody); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if got := clk.waits(); len(got) != 2 || got[0] != 3*time.Second || got[1] != 1500*time.Millisecond {
		t.Errorf("waited %v, want [3s 1.5s] as the upstream asked", got)
	}
	if n := len(up.Requests()); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestAttemptLoopBackoffIsBoundedAndCounted(t *testing.T) {
	var attempts []int
	pol := RetryPolicy{Max: 3, MinBackoff: time.Second, MaxBackoff: 4 * time.Second, MaxRetryAfter: 5 * time.Second,
		Backoff: func(min, max time.Duration, n int, resp *http.Response) time.Duration {
			attempts = append(attempts, n)
			if n == 2 {
				return time.Hour // clamped to MaxRetryAfter
			}
			return DefaultBackoff(min, max, n, resp)
		}}
	b, up, clk := clocked(t, pol)
	for range 4 {
		up.Enqueue(testupstream.Reply{Status: 502})
	}
	rec := post(b, chatBody)
	if rec.Code != 502 || !strings.Contains(rec.Body.String(), "fake upstream error 502") {
		t.Fatalf("after the last attempt the client gets the upstream's own error: %d %s", rec.Code, rec.Body)
	}
	got := clk.waits()
	if len(got) != 3 || len(up.Requests()) != 4 {
		t.Fatalf("waits %v, %d attempts: want 3 waits, 4 attempts", got, len(up.Requests()))
	}
	if got[0] > time.Second || got[1] > 2*time.Second || got[2] != 5*time.Second {
		t.Errorf("waits %v: want ≤1s, ≤2s (full jitter under min·2^n) and the 5s cap", got)
	}
	if len(attempts) != 3 || attempts[0] != 0 || attempts[1] != 1 || attempts[2] != 2 {
		t.Errorf("Backoff saw attempts %v, want [0 1 2]", attempts)
	}
}

func TestAttemptLoopRefusesLongRetryAfter(t *testing.T) {
	b, up, clk := clocked(t, RetryPolicy{Max: 2, MinBackoff: time.Second, MaxBackoff: time.Second, MaxRetryAfter: 10 * time.Second})
	up.Enqueue(testupstream.Reply{Status: 429, RetryAfter: "30"})
	rec := post(b, chatBody)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "30" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	if len(clk.waits()) != 0 || len(up.Requests()) != 1 {
		t.Errorf("waits %v, %d attempts: a Retry-After beyond MaxRetryAfter goes to the client at once", clk.waits(), len(up.Requests()))
	}
}

func TestAttemptLoopCustomCheckRetry(t *testing.T) {
	pol := RetryPolicy{Max: 1, CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		return resp != nil && resp.StatusCode == 500, nil
	}}
	b, up, _ := clocked(t, pol)
	up.Enqueue(testupstream.Reply{Status: 500}, testupstream.Reply{Status: 503})
	if rec := post(b, chatBody); rec.Code != 503 || len(up.Requests()) != 2 {
		t.Errorf("%d after %d attempts: the 500 is retried, the 503 is not", rec.Code, len(up.Requests()))
	}
}

func TestNoRetryAfterTheStreamStarted(t *testing.T) {
	b, up, clk := clocked(t, RetryPolicy{Max: 2, MinBackoff: time.Second, MaxBackoff: time.Second, MaxRetryAfter: time.Second})
	up.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c"}, CutAfter: 2})
	rec := post(b, `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, `"error"`) || strings.Contains(body, "[DONE]") {
		t.Fatalf("%d %s", rec.Code, body)
	}
	if len(up.Requests()) != 1 || len(clk.waits()) != 0 {
		t.Errorf("%d attempts, waits %v: nothing is retried once the client has bytes", len(up.Requests()), clk.waits())
	}
}

// redirectBody is the body of a faked redirect: it counts what was read
// of it and whether it was closed.
type redirectBody struct {
	r      *strings.Reader
	read   int
	closed bool
}

func (b *redirectBody) Read(p []byte) (int, error) { n, err := b.r.Read(p); b.read += n; return n, err }
func (b *redirectBody) Close() error               { b.closed = true; return nil }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAttemptLoopDrainsARedirectAndDoesNotRetryIt: a 3xx is the
// upstream's final word on this target: its body is read (for the
// connection's reuse) and closed but not relayed, the client gets a 502
// naming the provider, and nothing is retried or waited for.
func TestAttemptLoopDrainsARedirectAndDoesNotRetryIt(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308, 300, 304} {
		b, _, clk := clocked(t, RetryPolicy{Max: 2, MinBackoff: time.Second, MaxBackoff: time.Second, MaxRetryAfter: time.Second})
		var bodies []*redirectBody
		b.upstreams[0].client.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			body := &redirectBody{r: strings.NewReader(`{"error":{"message":"redirect-body-canary"}}`)}
			bodies = append(bodies, body)
			return &http.Response{StatusCode: status, Header: http.Header{"Location": {"http://169.254.169.254/latest/meta-data"}},
				Body: body, ContentLength: -1, Request: r}, nil
		})
		rec := post(b, chatBody)
		got := rec.Body.String()
		if rec.Code != http.StatusBadGateway || !strings.Contains(got, `"code":"upstream_redirect"`) || !strings.Contains(got, "provider openai answered with a redirect") {
			t.Errorf("%d: answered %d %s", status, rec.Code, got)
		}
		if strings.Contains(got, "redirect-body-canary") || strings.Contains(got, "169.254") || rec.Header().Get("Location") != "" {
			t.Errorf("%d: the redirect's body or Location reached the client: %v %s", status, rec.Header(), got)
		}
		if len(bodies) != 1 || len(clk.waits()) != 0 {
			t.Fatalf("%d: %d attempts, waits %v: a redirect is not retried on the same target", status, len(bodies), clk.waits())
		}
		if !bodies[0].closed || bodies[0].read == 0 {
			t.Errorf("%d: the redirect's body was not drained and closed (read %d, closed %v)", status, bodies[0].read, bodies[0].closed)
		}
	}
}

func TestRefuseRedirect(t *testing.T) {
	if err := refuseRedirect(httptest.NewRequest(http.MethodPost, "/", nil), nil); err != http.ErrUseLastResponse {
		t.Errorf("refuseRedirect = %v, want http.ErrUseLastResponse: the 3xx itself must reach the attempt loop", err)
	}
	b, _, _ := clocked(t, RetryPolicy{})
	for _, u := range b.upstreams {
		if u.client.CheckRedirect == nil {
			t.Errorf("upstream %s follows redirects", u.name)
		}
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{http.Header{"Retry-After": {"2"}}, 2 * time.Second, true},
		{http.Header{"Retry-After": {"0.25"}}, 250 * time.Millisecond, true},
		{http.Header{"Retry-After-Ms": {"120"}, "Retry-After": {"9"}}, 120 * time.Millisecond, true},
		{http.Header{"Retry-After": {now.Add(5 * time.Second).Format(http.TimeFormat)}}, 5 * time.Second, true},
		{http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0, true},
		{http.Header{"Retry-After": {"soon"}}, 0, false},
		{http.Header{"Retry-After": {"-3"}}, 0, false},
		{http.Header{}, 0, false},
	} {
		if got, ok := retryAfter(tt.h, now); got != tt.want || ok != tt.ok {
			t.Errorf("%v: got %v %v, want %v %v", tt.h, got, ok, tt.want, tt.ok)
		}
	}
}

func TestDefaultCheckRetry(t *testing.T) {
	ctx := context.Background()
	for status, want := range map[int]bool{429: true, 502: true, 503: true, 504: true, 529: true, 500: false, 400: false, 401: false, 404: false} {
		if got, _ := DefaultCheckRetry(ctx, &http.Response{StatusCode: status, Header: http.Header{}}, nil); got != want {
			t.Errorf("%d: %v, want %v", status, got, want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if got, _ := DefaultCheckRetry(cancelled, &http.Response{StatusCode: 503}, nil); got {
		t.Error("retried after the context ended")
	}
}

// TestRateLimitBurstDoesNotEject: a burst of 429s on a route's only target
// (more than BreakerPolicy.Failures of them) followed by a success. The
// 429s rest the key but are no health failures, so the last retry after
// the Retry-After wait reaches the target, and the target stays closed.
func TestRateLimitBurstDoesNotEject(t *testing.T) {
	b, up, clk := clocked(t, RetryPolicy{Max: 8, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxRetryAfter: 10 * time.Second})
	burst := make([]testupstream.Reply, 7)
	for i := range burst {
		burst[i] = testupstream.Reply{Status: 429, RetryAfter: "1"}
	}
	up.Enqueue(burst...)
	rec := post(b, chatBody)
	if rec.Code != 200 || len(up.Requests()) != 8 {
		t.Fatalf("status %d after %d attempts (waits %v): want 200 after 8", rec.Code, len(up.Requests()), clk.waits())
	}
	// Without retries: each client sees its 429, none ejects the target.
	b, up, _ = clocked(t, RetryPolicy{Max: 0})
	up.Enqueue(burst...)
	for range burst {
		if rec := post(b, chatBody); rec.Code != 429 {
			t.Fatalf("status %d during the burst", rec.Code)
		}
	}
	if rec := post(b, chatBody); rec.Code != 200 {
		t.Fatalf("status %d after the burst: %s", rec.Code, rec.Body)
	}
	for _, h := range b.Health() {
		if h.State != StateClosed || h.ConsecutiveFailures != 0 || h.LastError == "" {
			t.Errorf("health after a rate-limit burst: %+v (want closed, no breaking failures, the 429 noted)", h)
		}
	}
}
