package keys

import (
	"sync"
	"sync/atomic"
)

// unsentSpend is the cost of requests that ended on this replica and that
// the settle worker has not yet added to Redis's spend, by spend key (a
// subject's day or month key in Redis). The reservation that follows a
// request at once would otherwise compare the budget with a spend that
// lacks it, behind a worker that lags under load, and a client whose
// requests follow one another could pass its budget by a request or
// two. So a reservation adds this replica's unsent spend to Redis's
// before it compares (endedLeases does the same for requests in
// flight). Another replica's unsent spend is not seen: only for the
// worker's lag, a client spread over replicas can still pass a budget
// that closely.
type unsentSpend struct {
	n  atomic.Int64 // settlements counted, so that a reservation with none takes no lock
	mu sync.Mutex
	m  map[string]unsent
}

// unsent is what one spend key waits for: the sum and how many
// settlements make it (the entry goes when the last is sent, so that
// rounding leaves nothing behind).
type unsent struct {
	usd float64
	n   int
}

// add counts a settlement's cost for the spend keys given.
func (u *unsentSpend) add(usd float64, keys ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]unsent{}
	}
	for _, k := range keys {
		e := u.m[k]
		u.m[k] = unsent{e.usd + usd, e.n + 1}
		u.n.Add(1)
	}
}

// done forgets a settlement's cost: it reached Redis, or never will.
func (u *unsentSpend) done(usd float64, keys ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, k := range keys {
		e, ok := u.m[k]
		if !ok {
			continue
		}
		u.n.Add(-1)
		if e.n <= 1 {
			delete(u.m, k)
		} else {
			u.m[k] = unsent{e.usd - usd, e.n - 1}
		}
	}
}

// of returns the unsent cost of a day key and a month key.
func (u *unsentSpend) of(day, month string) (float64, float64) {
	if u.n.Load() == 0 {
		return 0, 0
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return max(0, u.m[day].usd), max(0, u.m[month].usd)
}
