// Package authguard slows down sources that keep presenting wrong keys: a
// per-source count of failed authentications that, past a free allowance,
// refuses the source for a backoff that doubles with every further
// failure. It is the one throttle behind every place a key is checked
// (model API, admin API and sign-in, live feed, metrics token), so a
// guess anywhere costs a guess everywhere.
package authguard

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Guard. Zero fields take the defaults.
type Options struct {
	// Free is how many failures a source may make within Window before it
	// is backed off (default 10: a person who mistypes a key a few times
	// is never slowed down).
	Free int
	// Window is how long a failure is remembered after the source's last
	// one (default 10 minutes).
	Window time.Duration
	// Base is the first backoff (default 1s); each further failure doubles
	// it, up to Max (default 5 minutes).
	Base, Max time.Duration
	// MaxSources bounds the sources tracked at once (default 65,536).
	// When it is reached, sources whose failures are forgotten are
	// dropped, and if none are, an arbitrary eighth of the others: memory
	// stays bounded however many addresses an attacker has.
	MaxSources int
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
}

// Guard counts failed authentications per source. The zero value is not
// usable; build one with New. It is safe for concurrent use.
type Guard struct {
	o Options
	// until is the latest backoff's end (Unix nanoseconds): once it has
	// passed no source waits, and Waiting answers without the lock — the
	// common case of a request whose source never failed.
	until atomic.Int64
	mu    sync.Mutex
	m     map[netip.Prefix]*source
}

type source struct {
	failures int       // within the window
	last     time.Time // the last failure
	until    time.Time // refused until then
}

// New returns a Guard with o's settings.
func New(o Options) *Guard {
	if o.Free <= 0 {
		o.Free = 10
	}
	if o.Window <= 0 {
		o.Window = 10 * time.Minute
	}
	if o.Base <= 0 {
		o.Base = time.Second
	}
	if o.Max < o.Base {
		o.Max = max(5*time.Minute, o.Base)
	}
	if o.MaxSources <= 0 {
		o.MaxSources = 1 << 16
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Guard{o: o, m: make(map[netip.Prefix]*source)}
}

// Waiting reports whether any source is backed off now. It takes no lock,
// and no reading of the clock until some source has been backed off:
// callers skip working out a request's source when it is false.
func (g *Guard) Waiting() bool {
	if g == nil {
		return false
	}
	u := g.until.Load()
	return u != 0 && g.o.Now().UnixNano() < u
}

// Wait reports how long src must wait before its next attempt is even
// looked at; 0 means go ahead. A nil Guard never waits.
func (g *Guard) Wait(src netip.Prefix) time.Duration {
	if !g.Waiting() || !src.IsValid() {
		return 0
	}
	now := g.o.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.m[src]
	if s == nil || !now.Before(s.until) {
		return 0
	}
	return s.until.Sub(now)
}

// Fail counts one failed authentication from src and returns the backoff
// it starts (0 while the source is within its free allowance).
func (g *Guard) Fail(src netip.Prefix) time.Duration {
	if g == nil || !src.IsValid() {
		return 0
	}
	now := g.o.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.m[src]
	if s == nil {
		if len(g.m) >= g.o.MaxSources {
			g.prune(now)
		}
		s = &source{}
		g.m[src] = s
	} else if now.Sub(s.last) > g.o.Window {
		*s = source{}
	}
	s.failures++
	s.last = now
	over := s.failures - g.o.Free
	if over <= 0 {
		return 0
	}
	d := g.o.Max
	if over <= 30 {
		d = min(g.o.Base<<(over-1), g.o.Max)
	}
	s.until = now.Add(d)
	if u := s.until.UnixNano(); u > g.until.Load() {
		g.until.Store(u) // under g.mu: no other writer
	}
	return d
}

// Sources returns how many sources are tracked (tests, metrics).
func (g *Guard) Sources() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.m)
}

// prune makes room (g.mu held): forgotten sources first, else an eighth of
// the map, in Go's random map order.
func (g *Guard) prune(now time.Time) {
	for k, s := range g.m {
		if now.Sub(s.last) > g.o.Window && !now.Before(s.until) {
			delete(g.m, k)
		}
	}
	if len(g.m) < g.o.MaxSources {
		return
	}
	n := len(g.m) / 8
	for k := range g.m {
		if n <= 0 {
			break
		}
		delete(g.m, k)
		n--
	}
}

// Source is the source an address is counted under: the IPv4 address, or
// the IPv6 /64 (one host commonly holds a whole /64, so counting single
// IPv6 addresses would let it rotate past the guard). An unparsable
// address gives the invalid Prefix, which the Guard never throttles.
func Source(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return netip.Prefix{}
	}
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}

// RemoteSource is the source of r's peer (r.RemoteAddr).
func RemoteSource(r *http.Request) netip.Prefix {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	return Source(a)
}

// ForwardedSource returns a function giving r's source behind trusted
// reverse proxies: when the peer is in trusted, the right-most address of
// X-Forwarded-For that is not itself trusted (the client as the first
// trusted proxy saw it; addresses left of it could be forged by the
// client). Without trusted proxies it is RemoteSource.
func ForwardedSource(trusted []netip.Prefix) func(*http.Request) netip.Prefix {
	if len(trusted) == 0 {
		return RemoteSource
	}
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) netip.Prefix {
		peer := RemoteSource(r)
		if !peer.IsValid() || !isTrusted(peer.Addr()) {
			return peer
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				return peer // a garbled hop: count the proxy, never a forged name
			}
			if !isTrusted(a) {
				return Source(a)
			}
		}
		return peer
	}
}
