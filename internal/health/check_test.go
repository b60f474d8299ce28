package health

import (
	"strings"
	"testing"
	"time"
)

// One failed check ejects at once, without counting as traffic; a passed
// check lets the target back in only once its ejection has ended.
func TestHealthCheckEjectsAndReadmits(t *testing.T) {
	s, log := testSet(pol, "sk-secret")
	h := s.Get(NewKey("a", "key-1"), "m")
	h.CheckFailed(t0, "health check: HTTP 503 sk-secret")
	st := h.Snapshot(t0)
	if st.State != Open || st.EjectedUntil != t0.Add(30*time.Second) || st.Requests1m != 0 || st.ConsecutiveFailures != 0 {
		t.Fatalf("after a failed check: %+v", st)
	}
	if st.CheckError != "health check: HTTP 503 [redacted]" || !st.CheckedAt.Equal(t0) || strings.Contains(log.String(), "sk-secret") {
		t.Errorf("check error %q at %v; log %s", st.CheckError, st.CheckedAt, log)
	}
	if ok, _ := h.Available(t0.Add(time.Second)); ok {
		t.Error("an ejected target is available")
	}
	h.CheckFailed(t0.Add(10*time.Second), "again") // within the ejection: not ejected longer
	if st := h.Snapshot(t0); st.Ejections != 1 {
		t.Errorf("ejections %d, want 1", st.Ejections)
	}
	h.CheckPassed(t0.Add(20 * time.Second)) // the ejection has not ended
	if st := h.Snapshot(t0.Add(20 * time.Second)); st.State != Open || st.CheckError != "" {
		t.Errorf("a pass within the ejection: %+v", st)
	}
	h.CheckPassed(t0.Add(31 * time.Second))
	if st := h.Snapshot(t0.Add(31 * time.Second)); st.State != Closed {
		t.Errorf("a pass after the ejection: %+v", st)
	}
	// Half-open (a user's probe is out): a passed check closes it.
	h.CheckFailed(t0.Add(40*time.Second), "down")
	later := t0.Add(40*time.Second + 61*time.Second)
	if !h.Begin(later) {
		t.Fatal("no probe after the ejection")
	}
	h.CheckPassed(later)
	if st := h.Snapshot(later); st.State != Closed || st.Ejections != 2 {
		t.Errorf("half-open then passed: %+v", st)
	}
}

// A passed check leaves a closed target's failures of user requests alone.
func TestHealthCheckKeepsUserFailures(t *testing.T) {
	s, _ := testSet(pol)
	h := s.Get(NewKey("a", ""), "m")
	h.Failure(t0, "HTTP 500", true)
	h.Failure(t0, "HTTP 500", true)
	h.CheckPassed(t0)
	h.Failure(t0, "HTTP 500", true)
	if st := h.Snapshot(t0); st.State != Open {
		t.Errorf("the third user failure did not eject: %+v", st)
	}
}
