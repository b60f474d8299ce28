package health

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Unix(1_800_000_000, 0)

func testSet(pol Policy, secrets ...string) (*Set, *bytes.Buffer) {
	var buf bytes.Buffer
	return NewSet(pol, slog.New(slog.NewTextHandler(&buf, nil)), secrets), &buf
}

var pol = Policy{Failures: 3, BaseEjection: 30 * time.Second, MaxEjection: 75 * time.Second, RetryBudget: 0.2, MinRetryConcurrency: 2}

// Failures in a row eject; the n-th ejection lasts n × BaseEjection up to
// MaxEjection; after it one probe half-opens the breaker and its success
// closes it.
func TestBreakerEjectsProbesAndCloses(t *testing.T) {
	s, log := testSet(pol)
	h := s.Get(NewKey("a", "key-1"), "m")
	now := t0
	for i := range 3 {
		if !h.Begin(now) {
			t.Fatalf("attempt %d refused while closed", i)
		}
		h.Failure(now, "HTTP 503", true)
	}
	if ok, until := h.Available(now); ok || !until.Equal(now.Add(30*time.Second)) {
		t.Fatalf("after 3 failures: available %v until %v", ok, until)
	}
	if h.Begin(now.Add(29 * time.Second)) {
		t.Fatal("an attempt began during the ejection")
	}
	now = now.Add(30 * time.Second)
	if !h.Begin(now) {
		t.Fatal("the probe was refused after the ejection")
	}
	if st := h.Snapshot(now); st.State != HalfOpen {
		t.Fatalf("state %q while probing, want half-open", st.State)
	}
	if h.Begin(now) {
		t.Fatal("a second request got the half-open probe")
	}
	if ok, until := h.Available(now); ok || !until.Equal(now.Add(time.Second)) {
		t.Fatalf("probe out: available %v until %v", ok, until)
	}
	h.Failure(now, "HTTP 503", true) // the probe fails: ejected again, twice as long
	if st := h.Snapshot(now); st.State != Open || st.Ejections != 2 || !st.EjectedUntil.Equal(now.Add(60*time.Second)) {
		t.Fatalf("after a failed probe: %+v", st)
	}
	now = now.Add(60 * time.Second)
	h.Begin(now)
	h.Failure(now, "HTTP 503", true) // third ejection: capped at MaxEjection
	if st := h.Snapshot(now); st.Ejections != 3 || !st.EjectedUntil.Equal(now.Add(75*time.Second)) {
		t.Fatalf("third ejection: %+v", st)
	}
	now = now.Add(75 * time.Second)
	h.Begin(now)
	h.Success(now, 200*time.Millisecond)
	st := h.Snapshot(now)
	if st.State != Closed || st.ConsecutiveFailures != 0 || st.P50 != 200*time.Millisecond {
		t.Fatalf("after a good probe: %+v", st)
	}
	for _, want := range []string{"target ejected", "target half-open: probing", "target closed: probe succeeded", "a/m (key-1)"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// Success keeps the consecutive failures of a closed breaker (a stream may
// still break); Clean forgets them.
func TestBreakerSuccessKeepsFailuresUntilClean(t *testing.T) {
	s, _ := testSet(pol)
	h := s.Get(NewKey("a", ""), "m")
	h.Failure(t0, "x", true)
	h.Failure(t0, "x", true)
	h.Success(t0, time.Millisecond)
	if st := h.Snapshot(t0); st.ConsecutiveFailures != 2 {
		t.Fatalf("success forgot the failures of a closed breaker: %+v", st)
	}
	h.Clean()
	if st := h.Snapshot(t0); st.ConsecutiveFailures != 0 {
		t.Fatalf("clean kept them: %+v", st)
	}
}

// A client error closes a half-open breaker; a non-breaking failure and
// an abandoned probe free the probe without closing or ejecting.
func TestBreakerNeutralAbandonAndNonBreaking(t *testing.T) {
	s, _ := testSet(Policy{Failures: 1, BaseEjection: time.Second, MaxEjection: time.Second})
	h := s.Get(NewKey("a", ""), "m")
	halfOpen := func(now time.Time) {
		t.Helper()
		h.Failure(now, "x", true)
		if !h.Begin(now.Add(time.Second)) {
			t.Fatal("no probe after the ejection")
		}
	}
	now := t0
	halfOpen(now)
	h.Abandon()
	if !h.Begin(now.Add(time.Second)) {
		t.Fatal("an abandoned probe was not freed")
	}
	h.Failure(now.Add(time.Second), "401", false)
	if st := h.Snapshot(now.Add(time.Second)); st.State != HalfOpen || st.Ejections != 1 {
		t.Fatalf("a non-breaking failure changed the state: %+v", st)
	}
	if !h.Begin(now.Add(time.Second)) {
		t.Fatal("a non-breaking failure did not free the probe")
	}
	h.Neutral(now.Add(time.Second))
	if st := h.Snapshot(now.Add(time.Second)); st.State != Closed || st.ConsecutiveFailures != 0 {
		t.Fatalf("a client error did not close the half-open breaker: %+v", st)
	}
}

// The statistics count requests and errors per minute and five minutes;
// the last error is cut to 300 bytes, then has the secrets redacted.
func TestBreakerSnapshotCountsAndRedacts(t *testing.T) {
	s, _ := testSet(Policy{Failures: 100}, "sk-secret")
	k := NewKey("a", "key-1")
	h := s.Get(k, "m")
	h.Success(t0, time.Millisecond)                                                       // 4 minutes ago
	h.Failure(t0, "old", true)                                                            // 4 minutes ago
	h.Success(t0.Add(4*time.Minute), time.Millisecond)                                    // now
	h.Failure(t0.Add(4*time.Minute), "bad key sk-secret "+strings.Repeat("x", 400), true) // now
	h.Acquire()
	k.CoolDown(t0.Add(4*time.Minute), 10*time.Second)
	st := h.Snapshot(t0.Add(4 * time.Minute))
	if st.Requests1m != 2 || st.ErrorRate1m != 0.5 || st.Requests5m != 4 || st.ErrorRate5m != 0.5 || st.InFlight != 1 {
		t.Errorf("counts: %+v", st)
	}
	if strings.Contains(st.LastError, "sk-secret") || !strings.HasPrefix(st.LastError, "bad key [redacted]") || len(st.LastError) != 300-len("sk-secret")+len("[redacted]") {
		t.Errorf("last error %q", st.LastError)
	}
	if st.Provider != "a" || st.Model != "m" || st.Key != "key-1" || st.KeyState != "cooling" || !st.KeyCooldownUntil.Equal(t0.Add(4*time.Minute+10*time.Second)) {
		t.Errorf("names and key state: %+v", st)
	}
	h.Release()
	if st := h.Snapshot(t0.Add(10 * time.Minute)); st.Requests5m != 0 || st.InFlight != 0 || st.KeyState != "ok" {
		t.Errorf("ten minutes later: %+v", st)
	}
}

// Get returns one breaker per key and model, also under concurrent use;
// Snapshot lists them sorted by provider, model and key.
func TestSetGetAndSnapshotOrder(t *testing.T) {
	s, _ := testSet(pol)
	kb, ka2, ka1 := NewKey("b", ""), NewKey("a", "key-2"), NewKey("a", "key-1")
	var wg sync.WaitGroup
	got := make([]*Breaker, 8)
	for i := range got {
		wg.Go(func() { got[i] = s.Get(ka1, "m") })
	}
	wg.Wait()
	for _, h := range got {
		if h != got[0] {
			t.Fatal("Get gave two breakers for one target")
		}
	}
	s.Get(kb, "m")
	s.Get(ka2, "m")
	s.Get(ka1, "l")
	var names []string
	for _, st := range s.Snapshot(t0) {
		names = append(names, st.Provider+"/"+st.Model+"/"+st.Key)
	}
	if want := "a/l/key-1 a/m/key-1 a/m/key-2 b/m/"; strings.Join(names, " ") != want {
		t.Errorf("snapshot order %q, want %q", strings.Join(names, " "), want)
	}
}

// Load sums the in-flight counts of a provider's keys and takes their best
// measured median latency.
func TestSetLoad(t *testing.T) {
	s, _ := testSet(pol)
	k1, k2 := NewKey("a", "1"), NewKey("a", "2")
	if n, lat := s.Load([]*Key{k1, k2}, "m"); n != 0 || lat != 0 {
		t.Fatalf("fresh load %d %v", n, lat)
	}
	s.Get(k1, "m").Acquire()
	s.Get(k2, "m").Acquire()
	s.Get(k1, "m").Success(t0, 300*time.Millisecond)
	s.Get(k2, "m").Success(t0, 100*time.Millisecond)
	s.Get(k1, "other").Acquire()
	if n, lat := s.Load([]*Key{k1, k2}, "m"); n != 2 || lat != 100*time.Millisecond {
		t.Errorf("load %d %v, want 2 100ms", n, lat)
	}
}

// The retry budget allows MinRetryConcurrency retrying requests, or the
// RetryBudget fraction of the active ones when that is more.
func TestSetRetryBudget(t *testing.T) {
	s, _ := testSet(pol) // 20 %, at least 2
	for range 20 {
		s.Enter()
	}
	for i := range 4 {
		if !s.StartRetry() {
			t.Fatalf("retry %d refused: 20 %% of 20 is 4", i+1)
		}
	}
	if s.StartRetry() {
		t.Fatal("a fifth retry of 20 active requests was allowed")
	}
	s.EndRetry()
	if !s.StartRetry() {
		t.Fatal("a place given back was not reusable")
	}
	for range 20 {
		s.Leave()
	}
	for range 4 {
		s.EndRetry()
	}
	var allowed []bool
	for range 3 {
		allowed = append(allowed, s.StartRetry())
	}
	if !slices.Equal(allowed, []bool{true, true, false}) {
		t.Errorf("without active requests: %v, want MinRetryConcurrency (2) retries allowed", allowed)
	}
}

// TestMedianLatency: the median is taken at once while the window fills,
// then at least every medianEvery successes, and follows a change of the
// target's latency within the window.
func TestMedianLatency(t *testing.T) {
	h := NewSet(Policy{}, slog.New(slog.DiscardHandler), nil).Get(NewKey("a", ""), "m")
	now := time.Unix(1_700_000_000, 0)
	for i, want := range []time.Duration{300, 300, 200} { // 300; 100 300; 100 200 300
		h.Success(now, []time.Duration{300, 100, 200}[i]*time.Millisecond)
		if got := h.Snapshot(now).P50; got != want*time.Millisecond {
			t.Fatalf("after %d successes: p50 %v, want %v", i+1, got, want*time.Millisecond)
		}
	}
	// A window of 100ms answers, then 900ms ones: the median turns when
	// they are most of the window, at most medianEvery-1 answers late.
	for range 64 {
		h.Success(now, 100*time.Millisecond)
	}
	for k := 1; k < 33+medianEvery-1; k++ {
		h.Success(now, 900*time.Millisecond)
		if got := h.Snapshot(now).P50; k < 32 && got != 100*time.Millisecond {
			t.Fatalf("after %d answers of 900ms: p50 %v, want 100ms", k, got)
		}
	}
	if got := h.Snapshot(now).P50; got != 900*time.Millisecond {
		t.Fatalf("p50 %v after a window of mostly 900ms answers, want 900ms", got)
	}
}

// BenchmarkSuccess is a target's bookkeeping of an answer: its second's
// count and the median latency.
func BenchmarkSuccess(b *testing.B) {
	h := NewSet(Policy{}, slog.New(slog.DiscardHandler), nil).Get(NewKey("a", ""), "m")
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		h.Success(now, time.Duration(i%97)*time.Millisecond)
	}
}
