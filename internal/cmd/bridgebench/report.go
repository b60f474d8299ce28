package main

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"time"
)

type httpClient = http.Client

func median[T int64 | float64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func collect[T any](ss []sample, f func(sample) T) []T {
	out := make([]T, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

func us(d time.Duration) string { return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond)) }

// report prints medians over rounds and ratios to the ReverseProxy.
func report(w io.Writer, o options, targets []target, samples map[string][]sample, idle map[string]int64, held map[string][2]int64) {
	fmt.Fprintf(w, "\nbridgebench — %s/%s, %d CPUs, %s; %d rounds (medians), %v phases, %d clients, %d events per stream\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), o.rounds, o.d, o.workers, o.up.Chunks+3)
	fmt.Fprintf(w, "%-13s %10s %9s %9s %10s | %10s %9s %9s %10s %5s %6s\n",
		"target", "req/s", "p50", "p99", "cpu/req", "streams/s", "ttft p50", "p99", "cpu/strm", "lost", "errors")
	type row struct{ rps, sps float64 }
	rows := map[string]row{}
	for _, t := range targets {
		ss := samples[t.name]
		ns := median(collect(ss, func(s sample) float64 { return s.nonStream.rate() }))
		st := median(collect(ss, func(s sample) float64 { return s.stream.rate() }))
		rows[t.name] = row{ns, st}
		lost, errs := 0, 0
		for _, s := range ss {
			lost += s.stream.lost + s.seqStr.lost
			errs += s.nonStream.errors + s.stream.errors + s.seqNonStream.errors + s.seqStr.errors
		}
		fmt.Fprintf(w, "%-13s %10.0f %9s %9s %10s | %10.0f %9s %9s %10s %5d %6d\n", t.name, ns,
			us(median(collect(ss, func(s sample) time.Duration { return pct(s.nonStream.lat, 0.5) }))),
			us(median(collect(ss, func(s sample) time.Duration { return pct(s.nonStream.lat, 0.99) }))),
			us(median(collect(ss, func(s sample) time.Duration { return s.cpuNonStream }))),
			st,
			us(median(collect(ss, func(s sample) time.Duration { return pct(s.stream.ttft, 0.5) }))),
			us(median(collect(ss, func(s sample) time.Duration { return pct(s.stream.ttft, 0.99) }))),
			us(median(collect(ss, func(s sample) time.Duration { return s.cpuStream }))),
			lost, errs)
	}
	if rp, ok := rows["reverseproxy"]; ok && rp.rps > 0 {
		fmt.Fprintf(w, "\nratios to reverseproxy (throughput):\n")
		for _, t := range targets {
			fmt.Fprintf(w, "  %-13s non-streaming %.2f×   streams %.2f×\n", t.name, rows[t.name].rps/rp.rps, rows[t.name].sps/rp.sps)
		}
	}
	if b, ok := rows["bridge"]; ok {
		if n, ok := rows["bridge-nolog"]; ok && n.rps > 0 {
			fmt.Fprintf(w, "request log + usage accounting cost: non-streaming %+.1f%%, streams %+.1f%%\n", 100*(b.rps/n.rps-1), 100*(b.sps/n.sps-1))
		}
		if s, ok := rows["bridge-store"]; ok && b.rps > 0 {
			fmt.Fprintf(w, "usage store on (bridge-store) vs off (bridge): non-streaming %+.1f%%, streams %+.1f%%\n", 100*(s.rps/b.rps-1), 100*(s.sps/b.sps-1))
		}
	}
	if d, ok := samples["direct"]; ok {
		fmt.Fprintf(w, "\none request at a time (p50, added over direct):\n")
		base := median(collect(d, func(s sample) time.Duration { return pct(s.seqNonStream.lat, 0.5) }))
		baseTTFT := median(collect(d, func(s sample) time.Duration { return pct(s.seqStr.ttft, 0.5) }))
		for _, t := range targets {
			ss := samples[t.name]
			l := median(collect(ss, func(s sample) time.Duration { return pct(s.seqNonStream.lat, 0.5) }))
			f := median(collect(ss, func(s sample) time.Duration { return pct(s.seqStr.ttft, 0.5) }))
			fmt.Fprintf(w, "  %-13s latency %9s (+%s)   first event %9s (+%s)\n", t.name, us(l), us(l-base), us(f), us(f-baseTTFT))
		}
	}
	if len(held) > 0 {
		fmt.Fprintf(w, "\nmemory (RSS of the front's process):\n")
		for _, t := range targets {
			h := held[t.name]
			per := float64(h[1]-h[0]) / float64(o.hold) / 1024
			fmt.Fprintf(w, "  %-13s idle at start %6.1f MB   with %d streams open %7.1f MB   %6.1f KiB per open stream\n",
				t.name, float64(idle[t.name])/1e6, o.hold, float64(h[1])/1e6, per)
		}
	}
}
