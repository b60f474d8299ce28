package authguard

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBackoffDoublesAfterTheFreeAllowance(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	g := New(Options{Free: 3, Window: time.Minute, Base: time.Second, Max: 10 * time.Second, Now: c.now})
	src := Source(netip.MustParseAddr("192.0.2.1"))
	for i := range 3 {
		if d := g.Fail(src); d != 0 || g.Wait(src) != 0 {
			t.Fatalf("failure %d within the allowance: backoff %v", i+1, d)
		}
	}
	for i, want := range []time.Duration{1, 2, 4, 8, 10, 10} {
		if d := g.Fail(src); d != want*time.Second {
			t.Fatalf("failure %d: backoff %v, want %v", 4+i, d, want*time.Second)
		}
		if w := g.Wait(src); w != want*time.Second {
			t.Fatalf("wait %v", w)
		}
	}
	if w := g.Wait(Source(netip.MustParseAddr("192.0.2.2"))); w != 0 {
		t.Errorf("another source waits %v", w)
	}
	c.t = c.t.Add(10 * time.Second)
	if w := g.Wait(src); w != 0 {
		t.Errorf("still waiting %v after the backoff", w)
	}
	// Forgotten after the window: the allowance is whole again.
	c.t = c.t.Add(2 * time.Minute)
	if d := g.Fail(src); d != 0 {
		t.Errorf("backoff %v after the window passed", d)
	}
}

func TestIPv6CountsPerSlash64(t *testing.T) {
	a := Source(netip.MustParseAddr("2001:db8:1:2::1"))
	b := Source(netip.MustParseAddr("2001:db8:1:2:ffff::9"))
	c := Source(netip.MustParseAddr("2001:db8:1:3::1"))
	if a != b || a == c {
		t.Errorf("%v %v %v", a, b, c)
	}
	if m := Source(netip.MustParseAddr("::ffff:192.0.2.1")); m != Source(netip.MustParseAddr("192.0.2.1")) {
		t.Errorf("a v4-mapped address is its own source: %v", m)
	}
}

func TestSourcesAreBounded(t *testing.T) {
	g := New(Options{MaxSources: 64})
	for i := range 10000 {
		g.Fail(Source(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})))
	}
	if n := g.Sources(); n > 64 {
		t.Errorf("%d sources tracked, bound 64", n)
	}
}

func TestForwardedSourceTrustsOnlyTheProxies(t *testing.T) {
	src := ForwardedSource([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	for _, tc := range []struct {
		peer, xff, want string
	}{
		{"10.1.2.3:80", "198.51.100.7", "198.51.100.7/32"},
		{"10.1.2.3:80", "6.6.6.6, 198.51.100.7, 10.9.9.9", "198.51.100.7/32"}, // the forged left-most is ignored
		{"203.0.113.5:80", "198.51.100.7", "203.0.113.5/32"},                  // not a proxy: its header is the client's
		{"10.1.2.3:80", "", "10.1.2.3/32"},
		{"10.1.2.3:80", "garbage", "10.1.2.3/32"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := src(r).String(); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}

func TestNilGuardAndInvalidSourceNeverWait(t *testing.T) {
	var g *Guard
	if g.Fail(netip.Prefix{}) != 0 || g.Wait(netip.Prefix{}) != 0 {
		t.Error("nil guard")
	}
	g = New(Options{Free: 1})
	for range 5 {
		g.Fail(netip.Prefix{})
	}
	if g.Wait(netip.Prefix{}) != 0 || g.Sources() != 0 {
		t.Error("an invalid source was throttled")
	}
}
