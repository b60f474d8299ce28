package health

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Key is the state of one key of a provider: usable, cooling down after a
// 429 until some time, or refused (401/403 seen: taken out while the
// provider's other keys serve). It knows the key by its id only, never
// the secret. Build it with NewKey; its methods are safe for concurrent
// use.
type Key struct {
	provider string
	id       string

	mu        sync.Mutex
	refused   bool      // 401/403 seen
	coolUntil time.Time // 429 seen
}

// NewKey returns the usable state of the key with id (the root's KeyID,
// "" when unknown) of the named provider.
func NewKey(provider, id string) *Key { return &Key{provider: provider, id: id} }

// ID returns the key's id, "" when unknown.
func (k *Key) ID() string { return k.id }

// usable reports whether k is neither refused nor cooling at now.
func (k *Key) usable(now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return !k.refused && !now.Before(k.coolUntil)
}

// state names k's state at now for Status: "ok", "cooling" (with its
// end) or "refused".
func (k *Key) state(now time.Time) (string, time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.refused:
		return "refused", time.Time{}
	case now.Before(k.coolUntil):
		return "cooling", k.coolUntil
	}
	return "ok", time.Time{}
}

// TakeOut marks k refused after an answer with status (401 or 403),
// logging it to log the first time only. A refused key stays out for the
// life of the Key.
func (k *Key) TakeOut(log *slog.Logger, status int) {
	k.mu.Lock()
	first := !k.refused
	k.refused = true
	k.mu.Unlock()
	if first {
		log.Warn("provider key refused: taken out while other keys serve", "provider", k.provider, "key", k.id, "status", status)
	}
}

// CoolDown rests k until now+d after a 429; a longer rest already under
// way is kept.
func (k *Key) CoolDown(now time.Time, d time.Duration) {
	k.mu.Lock()
	if u := now.Add(d); u.After(k.coolUntil) {
		k.coolUntil = u
	}
	k.mu.Unlock()
}

// Ring is the keys of one provider with their rotation: each request
// starts one key further. The rotation belongs to the request, not to the
// places it may go: a request whose targets reach the provider several
// times (a route's models, its fallbacks) takes one Turn and orders every
// one of them from it, so the provider's keys are one pool however many
// times a request meets them. Build it with NewRing; its methods are safe
// for concurrent use.
type Ring struct {
	keys []*Key
	next atomic.Uint64
}

// NewRing returns the ring of keys, in that order; keys must not be
// empty.
func NewRing(keys []*Key) *Ring { return &Ring{keys: keys} }

// Keys returns the ring's keys in their order; the caller must not modify
// the slice.
func (r *Ring) Keys() []*Key { return r.keys }

// Turn advances the rotation for one request and returns the index of the
// key it starts with, for OrderFrom. With one key it returns 0 and does
// not rotate.
func (r *Ring) Turn() int {
	n := len(r.keys)
	if n == 1 {
		return 0
	}
	return int(r.next.Add(1) % uint64(n))
}

// Order appends to dst the indices of the keys to try for one request at
// now, taking the request's Turn: OrderFrom(dst, r.Turn(), now). A
// request that meets the provider more than once must take one Turn and
// call OrderFrom for each; calling Order for each would advance the
// rotation by as many steps per request, and with as many steps as keys
// (two targets, two keys) every request would start with the same key.
func (r *Ring) Order(dst []int, now time.Time) []int {
	return r.OrderFrom(dst, r.Turn(), now)
}

// OrderFrom appends to dst the indices (into Keys) of the keys to try at
// now, starting with the key at start (a Turn): the usable ones in
// rotation, then, only when none is usable, the resting ones, so that the
// client gets the upstream's own answer rather than nothing. It does not
// rotate.
func (r *Ring) OrderFrom(dst []int, start int, now time.Time) []int {
	n := len(r.keys)
	if n == 1 {
		return append(dst, 0)
	}
	mark := len(dst)
	for i := range n {
		if j := (start + i) % n; r.keys[j].usable(now) {
			dst = append(dst, j)
		}
	}
	if len(dst) == mark {
		for i := range n {
			dst = append(dst, (start+i)%n)
		}
	}
	return dst
}
