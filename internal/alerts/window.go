package alerts

import (
	"math"
	"time"
)

// resolution is the width of one slot of a sliding window: requests are
// counted per slot, and a window of 5m sums its last 30 slots.
const resolution = 10 * time.Second

// ttftBins are the upper bounds of the TTFT histogram bins in seconds,
// 5% apart from 1 ms to about 10 minutes: a p95 from them is within 5%
// of the exact one.
var ttftBins = func() []float64 {
	var b []float64
	for v := 0.001; v < 600; v *= 1.05 {
		b = append(b, v)
	}
	return append(b, math.Inf(1))
}()

// slot counts one provider's requests that ended in one resolution
// interval.
type slot struct {
	at            int64 // start, in resolution units since the epoch
	total, failed int
	streams       int
	ttft          []uint32 // counts per ttftBins; nil until a stream ends
}

// series is one provider's slots, oldest first.
type series struct{ slots []slot }

func slotOf(t time.Time) int64 { return t.UnixNano() / int64(resolution) }

// current returns the slot for t, appending one when time moved on.
func (s *series) current(t time.Time) *slot {
	at := slotOf(t)
	if n := len(s.slots); n > 0 && s.slots[n-1].at >= at {
		return &s.slots[n-1] // a late record joins the newest slot
	}
	s.slots = append(s.slots, slot{at: at})
	return &s.slots[len(s.slots)-1]
}

// prune drops slots older than keep before now.
func (s *series) prune(now time.Time, keep time.Duration) {
	oldest := slotOf(now.Add(-keep))
	i := 0
	for i < len(s.slots) && s.slots[i].at < oldest {
		i++
	}
	if i > 0 {
		s.slots = append(s.slots[:0], s.slots[i:]...)
	}
}

// sum is a window's totals.
type sum struct {
	total, failed, streams int
	ttft                   []uint32
}

// window sums the slots of the last d before now (the current slot
// included, so a window covers d plus the part of the slot in progress).
func (s *series) window(now time.Time, d time.Duration) sum {
	from := slotOf(now.Add(-d)) + 1
	var out sum
	for i := range s.slots {
		sl := &s.slots[i]
		if sl.at < from {
			continue
		}
		out.total += sl.total
		out.failed += sl.failed
		out.streams += sl.streams
		if sl.ttft != nil {
			if out.ttft == nil {
				out.ttft = make([]uint32, len(ttftBins))
			}
			for j, n := range sl.ttft {
				out.ttft[j] += n
			}
		}
	}
	return out
}

// p95 returns the upper bound of the bin holding the 95th percentile of
// the window's TTFTs, in seconds.
func (w sum) p95() float64 {
	if w.streams == 0 {
		return 0
	}
	rank := uint32(math.Ceil(0.95 * float64(w.streams)))
	var seen uint32
	for i, n := range w.ttft {
		if seen += n; seen >= rank {
			return ttftBins[i]
		}
	}
	return ttftBins[len(ttftBins)-1]
}

// ttftBin returns the bin of a TTFT in seconds.
func ttftBin(sec float64) int {
	lo, hi := 0, len(ttftBins)-1
	for lo < hi { // the first bin whose bound is >= sec
		mid := (lo + hi) / 2
		if ttftBins[mid] >= sec {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// counterSample is a reading of a cumulative counter.
type counterSample struct {
	at time.Time
	v  int64
}

// increase returns how much a counter grew over the last d, from the
// oldest sample within d (or the newest before it), and drops samples no
// longer needed.
func increase(samples []counterSample, now time.Time, d time.Duration) int64 {
	if len(samples) == 0 {
		return 0
	}
	base := samples[0]
	for _, s := range samples {
		if s.at.After(now.Add(-d)) {
			break
		}
		base = s
	}
	return samples[len(samples)-1].v - base.v
}
