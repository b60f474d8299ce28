package health

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

type cand struct {
	name     string
	weight   int
	inflight int
	lat      time.Duration
}

func names(cs []cand) string {
	s := ""
	for _, c := range cs {
		s += c.name
	}
	return s
}

func weight(c cand) int { return c.weight }

// Weighted moves the pick randN lands on to each position in turn, asking
// randN for a number below the weight left; weights below 1 count as 1.
func TestWeightedPicks(t *testing.T) {
	for _, tc := range []struct {
		draws []int
		want  string
		ns    []int // the n randN gets
	}{
		{[]int{0, 0}, "abc", []int{6, 3}}, // a (weight 3) first, then b
		{[]int{3, 0}, "bac", []int{6, 4}}, // 3 of 6 lands on b (weight 2)
		{[]int{5, 2}, "cab", []int{6, 5}}, // c (weight 0 counts 1) first; 2 of b, a lands on a
		{[]int{5, 0}, "cba", []int{6, 5}},
		{[]int{4, 3}, "bca", []int{6, 4}}, // b first; 3 of a, c lands on c
		{[]int{2, 3}, "acb", []int{6, 3}},
	} {
		cs := []cand{{name: "a", weight: 3}, {name: "b", weight: 2}, {name: "c", weight: 0}}
		var ns []int
		Weighted(cs, weight, func(n int) int { ns = append(ns, n); return tc.draws[len(ns)-1] })
		if got := names(cs); got != tc.want || !slices.Equal(ns, tc.ns) {
			t.Errorf("draws %v: %s with n %v, want %s with n %v", tc.draws, got, ns, tc.want, tc.ns)
		}
	}
}

// Over many draws, the first place goes to each candidate in proportion to
// its weight.
func TestWeightedProportions(t *testing.T) {
	first := map[string]int{}
	const n = 20_000
	r := rand.New(rand.NewPCG(1, 2))
	for range n {
		cs := []cand{{name: "a", weight: 3}, {name: "b", weight: 1}}
		Weighted(cs, weight, r.IntN)
		first[cs[0].name]++
	}
	if got := float64(first["a"]) / n; got < 0.73 || got > 0.77 {
		t.Errorf("a first in %.3f of draws, want 0.75", got)
	}
}

// LeastBusy and LowestLatency sort stably; unmeasured latency comes first.
func TestSortBalancers(t *testing.T) {
	cs := []cand{{name: "a", inflight: 2}, {name: "b", inflight: 0}, {name: "c", inflight: 1}, {name: "d", inflight: 0}}
	LeastBusy(cs, func(c cand) int { return c.inflight })
	if got := names(cs); got != "bdca" {
		t.Errorf("least busy: %s, want bdca", got)
	}
	cs = []cand{{name: "a", lat: 3}, {name: "b", lat: 1}, {name: "c", lat: 0}, {name: "d", lat: 1}}
	LowestLatency(cs, func(c cand) time.Duration { return c.lat })
	if got := names(cs); got != "cbda" {
		t.Errorf("lowest latency: %s, want cbda", got)
	}
}

// No balancer allocates.
func TestBalancersDoNotAllocate(t *testing.T) {
	cs := []cand{{name: "a", weight: 3, inflight: 2, lat: 3}, {name: "b", weight: 1, inflight: 1, lat: 1}, {name: "c", weight: 1}}
	orig := slices.Clone(cs)
	if n := testing.AllocsPerRun(100, func() {
		copy(cs, orig)
		Weighted(cs, weight, rand.IntN)
		LeastBusy(cs, func(c cand) int { return c.inflight })
		LowestLatency(cs, func(c cand) time.Duration { return c.lat })
	}); n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}
