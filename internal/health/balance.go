package health

import (
	"slices"
	"time"
)

// The built-in balancers: each reorders a route's candidates in place for
// one request, reading what it needs through an accessor, so that it
// serves the root's Candidate without knowing it. None allocates; each is
// safe for concurrent use on distinct slices.

// Weighted draws the candidates without replacement in proportion to
// their weights: a weighted random pick moves to each position in turn.
// weight returns a candidate's weight, below 1 counting as 1; randN
// returns a number in [0, n) (rand.IntN, or a fixed sequence in tests).
func Weighted[C any](cands []C, weight func(C) int, randN func(int) int) {
	total := 0
	for _, c := range cands {
		total += max(weight(c), 1)
	}
	for i := 0; i < len(cands)-1; i++ {
		pick := randN(total)
		j := i
		for ; j < len(cands)-1; j++ {
			pick -= max(weight(cands[j]), 1)
			if pick < 0 {
				break
			}
		}
		total -= max(weight(cands[j]), 1)
		cands[i], cands[j] = cands[j], cands[i]
	}
}

// LeastBusy puts the candidates with the fewest requests in flight
// first; ties keep their order.
func LeastBusy[C any](cands []C, inFlight func(C) int) {
	slices.SortStableFunc(cands, func(a, b C) int { return inFlight(a) - inFlight(b) })
}

// LowestLatency puts the fastest candidates first, those not measured yet
// (latency 0) before all, so they get measured; ties keep their order.
func LowestLatency[C any](cands []C, latency func(C) time.Duration) {
	slices.SortStableFunc(cands, func(a, b C) int {
		switch la, lb := latency(a), latency(b); {
		case la < lb:
			return -1
		case la > lb:
			return 1
		}
		return 0
	})
}
