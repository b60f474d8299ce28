package llmbridge

import (
	"math/rand/v2"
	"slices"
)

// The built-in balancers of the Strategy values. None allocates.

// ordered keeps the listed order.
type ordered struct{}

func (ordered) Order(*Request, []Candidate) {}

// weighted draws without replacement in proportion to the weights.
type weighted struct{}

func (weighted) Order(_ *Request, cands []Candidate) { weightedOrder(cands, rand.IntN) }

// weightedOrder moves a weighted random pick to each position in turn;
// randN returns a number in [0, n).
func weightedOrder(cands []Candidate, randN func(int) int) {
	total := 0
	for _, c := range cands {
		total += max(c.Weight, 1)
	}
	for i := 0; i < len(cands)-1; i++ {
		pick := randN(total)
		j := i
		for ; j < len(cands)-1; j++ {
			pick -= max(cands[j].Weight, 1)
			if pick < 0 {
				break
			}
		}
		total -= max(cands[j].Weight, 1)
		cands[i], cands[j] = cands[j], cands[i]
	}
}

// leastBusy puts the targets with the fewest requests in flight first.
type leastBusy struct{}

func (leastBusy) Order(_ *Request, cands []Candidate) {
	slices.SortStableFunc(cands, func(a, b Candidate) int { return a.InFlight - b.InFlight })
}

// lowestLatency puts the fastest targets first, unmeasured ones before all.
type lowestLatency struct{}

func (lowestLatency) Order(_ *Request, cands []Candidate) {
	slices.SortStableFunc(cands, func(a, b Candidate) int {
		switch {
		case a.Latency < b.Latency:
			return -1
		case a.Latency > b.Latency:
			return 1
		}
		return 0
	})
}
