package keys

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

// TestAppendResetIsString holds appendReset to what it replaced,
// time.Duration's String of the duration rounded to the millisecond, on
// the edges of every unit and on random durations up to a few days.
func TestAppendResetIsString(t *testing.T) {
	want := func(d time.Duration) string {
		if d <= 0 {
			return "0s"
		}
		return d.Round(time.Millisecond).String()
	}
	ds := []time.Duration{-time.Second, 0, 1, 499 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 999 * time.Millisecond,
		999500 * time.Microsecond, time.Second, 1001 * time.Millisecond, 1010 * time.Millisecond, 1100 * time.Millisecond,
		59999 * time.Millisecond, time.Minute, 6 * time.Minute, time.Hour, time.Hour + time.Millisecond, 25*time.Hour + 61*time.Second}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		ds = append(ds, time.Duration(r.Int64N(int64(72*time.Hour))), time.Duration(r.Int64N(int64(2*time.Second))))
	}
	for _, d := range ds {
		if got := string(appendReset(nil, d)); got != want(d) {
			t.Fatalf("appendReset(%d) = %q, want %q", d, got, want(d))
		}
	}
}

// A ticket's AddHeader sets what its Header returns, and nothing else of
// the header it is given.
func TestAddHeaderIsHeader(t *testing.T) {
	tk := &ticket{lim: Limits{RPM: 60, TPM: 10000}, d: decision{ok: true, remReq: 41, resetReq: 1500 * time.Millisecond, remTok: 9000, resetTok: 6 * time.Minute}}
	h := http.Header{"X-Request-Id": {"req_1"}}
	tk.AddHeader(h)
	want := tk.Header()
	if len(want) != 6 || want.Get("X-Ratelimit-Remaining-Tokens") != "9000" || want.Get("X-Ratelimit-Reset-Requests") != "1.5s" {
		t.Fatalf("Header %v", want)
	}
	want.Set("X-Request-Id", "req_1")
	if fmt.Sprint(h) != fmt.Sprint(want) {
		t.Errorf("AddHeader gave %v, want %v", h, want)
	}
	if (&ticket{}).Header() != nil {
		t.Error("a key without limits has x-ratelimit-* headers")
	}
}

// Each Header is a header of its own, values included: a caller that
// changes one (HeaderTicket lets it) changes no other, nor what AddHeader
// gave the response.
func TestHeaderIsFresh(t *testing.T) {
	tk := &ticket{lim: Limits{RPM: 60}, d: decision{ok: true, remReq: 41, resetReq: time.Second}}
	resp := http.Header{}
	tk.AddHeader(resp)
	a, b := tk.Header(), tk.Header()
	a["X-Ratelimit-Remaining-Requests"][0] = "changed"
	if b.Get("X-Ratelimit-Remaining-Requests") != "41" || resp.Get("X-Ratelimit-Remaining-Requests") != "41" {
		t.Errorf("a change to one Header showed in another (%v) or in the response (%v)", b, resp)
	}
}
