package keys

import (
	"slices"
	"sync"
	"sync/atomic"
)

// endedLeases are the leases of requests that ended on this replica and
// that the settle worker has not yet freed in Redis, by subject (a key's
// or a team's id). The worker frees a lease a moment after its request
// ends, and under load it lags behind; a client whose requests follow one
// another would meanwhile find its own ended requests still in flight and
// be refused for parallel requests it does not make. So the next
// reservation for a subject frees the subject's ended leases first, in
// its own script run (both frees are a ZREM: whichever comes second does
// nothing). Another replica does not know of them: a client whose
// consecutive requests reach different replicas can still meet a lease
// for the worker's lag, as before.
//
// A lease the worker could not free (Redis away) stays until a
// reservation frees it, at most maxEnded in all: beyond, a lease is left
// to expire in Redis.
type endedLeases struct {
	n  atomic.Int64 // leases held, so that a reservation with none to free takes no lock
	mu sync.Mutex
	m  map[string][]string
}

// maxEndedPassed bounds the leases one reservation frees: as many as a
// limit on requests in flight would reasonably be, not the whole queue's.
const maxEndedPassed = 64

// maxEnded bounds the leases held, for the subjects never reserved again.
const maxEnded = 1 << 16

func (e *endedLeases) add(id, lease string) {
	if e.n.Load() >= maxEnded {
		return
	}
	e.mu.Lock()
	if e.m == nil {
		e.m = map[string][]string{}
	}
	e.m[id] = append(e.m[id], lease)
	e.n.Add(1)
	e.mu.Unlock()
}

// remove forgets the leases given of id, when it holds them.
func (e *endedLeases) remove(id string, leases ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.m[id]
	for _, lease := range leases {
		if i := slices.Index(l, lease); i >= 0 {
			l = slices.Delete(l, i, i+1)
			e.n.Add(-1)
		}
	}
	if len(l) == 0 {
		delete(e.m, id)
	} else {
		e.m[id] = l
	}
}

// of returns up to maxEndedPassed of id's ended leases (a copy).
func (e *endedLeases) of(id string) []string {
	if e.n.Load() == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.m[id]
	return slices.Clone(l[:min(len(l), maxEndedPassed)])
}
