package healthcheck

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/health"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestVerdict(t *testing.T) {
	for _, c := range []struct {
		status int
		err    error
		ok     bool
	}{
		{200, nil, true}, {400, nil, true}, {404, nil, true}, {422, nil, true},
		{401, nil, false}, {403, nil, false}, {429, nil, false}, {500, nil, false}, {503, nil, false}, {302, nil, false},
		{0, errors.New("dial tcp: connection refused"), false}, {0, context.DeadlineExceeded, false},
	} {
		var resp *http.Response
		if c.err == nil {
			resp = &http.Response{StatusCode: c.status}
		}
		if ok, what := Verdict(resp, c.err); ok != c.ok || (!ok && what == "") {
			t.Errorf("%d %v: ok %v (%q), want %v", c.status, c.err, ok, what, c.ok)
		}
	}
}

// Probe feeds the breaker: a 503 ejects, a 200 after the ejection closes.
func TestProbe(t *testing.T) {
	var status atomic.Int32
	status.Store(503)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(int(status.Load())) }))
	defer srv.Close()
	set := health.NewSet(health.Policy{Failures: 5, BaseEjection: 30 * time.Second, MaxEjection: time.Minute}, slog.New(slog.DiscardHandler), nil)
	br := set.Get(health.NewKey("a", ""), "m")
	now := time.Unix(1_800_000_000, 0)
	newReq := func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, "POST", srv.URL, nil)
	}
	if err := Probe(context.Background(), srv.Client(), newReq, br, func() time.Time { return now }); err == nil {
		t.Fatal("a 503 passed")
	}
	if ok, _ := br.Available(now); ok {
		t.Fatal("not ejected")
	}
	status.Store(200)
	now = now.Add(31 * time.Second)
	if err := Probe(context.Background(), srv.Client(), newReq, br, func() time.Time { return now }); err != nil {
		t.Fatal(err)
	}
	if st := br.Snapshot(now); st.State != health.Closed {
		t.Errorf("after a pass: %s", st.State)
	}
}

// fakeTimer fires its channels when the test says.
type fakeTimer struct{ asked chan chan time.Time }

func (f *fakeTimer) After(time.Duration) <-chan time.Time {
	c := make(chan time.Time, 1)
	f.asked <- c
	return c
}

// Start checks at once, then once per tick; Stop ends every loop.
func TestRunnerSchedule(t *testing.T) {
	ft := &fakeTimer{asked: make(chan chan time.Time)}
	runs := make(chan struct{}, 10)
	r := Start([]Check{{Name: "a/m", Interval: time.Hour, Run: func(context.Context) error { runs <- struct{}{}; return errors.New("down") }}}, ft, slog.New(slog.DiscardHandler))
	for i := range 3 {
		<-runs // the check ran (at once, then after each tick)
		tick := <-ft.asked
		if len(runs) != 0 {
			t.Fatalf("round %d: a check ran before its tick", i)
		}
		tick <- time.Now()
	}
	<-runs
	<-ft.asked
	r.Stop()
	var none *Runner
	none.Stop()
}

// A check's call is bounded by its interval.
func TestRunnerTimeout(t *testing.T) {
	got := make(chan time.Duration, 1)
	r := Start([]Check{{Name: "a/m", Interval: 2 * time.Second, Run: func(ctx context.Context) error {
		d, _ := ctx.Deadline()
		got <- time.Until(d)
		return nil
	}}}, RealTimer{}, slog.New(slog.DiscardHandler))
	if d := <-got; d > 2*time.Second || d < time.Second {
		t.Errorf("deadline in %s", d)
	}
	r.Stop()
}
