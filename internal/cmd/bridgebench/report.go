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

// median is v's middle value, the mean of the two middle ones when v has
// an even count.
func median[T int64 | float64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
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

// signedUS is us with its sign always shown.
func signedUS(d time.Duration) string {
	return fmt.Sprintf("%+.0fµs", float64(d)/float64(time.Microsecond))
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// pairedRatio returns the median, lowest and highest over k of
// f(ts[k]) / f(base[k]): each of a target's rounds against the baseline
// sample paired with it.
func pairedRatio(ts, base []sample, f func(sample) float64) (med, lo, hi float64) {
	var rs []float64
	for k := range min(len(ts), len(base)) {
		if b, v := f(base[k]), f(ts[k]); b > 0 && v > 0 { // a phase with no answer has no rate or CPU to compare
			rs = append(rs, v/b)
		}
	}
	if len(rs) == 0 {
		return 0, 0, 0
	}
	return median(rs), slices.Min(rs), slices.Max(rs)
}

// reportRatios prints every target's throughput and CPU against the
// ReverseProxy's. A bridge variant measured with -pair is set against
// the proxy's sample taken just before it in each round (pairs), the
// others against the proxy's sample of the same round.
func reportRatios(w io.Writer, targets []target, samples, pairs map[string][]sample) {
	paired := len(pairs) > 0
	how := "each target's rounds against the proxy's of the same round"
	if paired {
		how = "each bridge variant's rounds against the proxy measured just before it (-pair; direct against the proxy's own turn)"
	}
	fmt.Fprintf(w, "\nratios to reverseproxy: medians of %s; in brackets the lowest and highest\n", how)
	fmt.Fprintf(w, "  (throughput: higher is faster; cpu: lower is cheaper)\n")
	for _, t := range targets {
		if t.name == "reverseproxy" {
			continue
		}
		base := samples["reverseproxy"]
		if ps, ok := pairs[t.name]; ok {
			base = ps
		}
		var r [4]string
		for i, f := range ratioFns {
			if med, lo, hi := pairedRatio(samples[t.name], base, f); med > 0 {
				r[i] = fmt.Sprintf("%.2f× [%.2f–%.2f]", med, lo, hi)
			} else {
				r[i] = "n/a"
			}
		}
		fmt.Fprintf(w, "  %-14s non-streaming %s  streams %s  cpu/req %s  cpu/strm %s\n", t.name, r[0], r[1], r[2], r[3])
	}
}

// medianRow is the medians of a target's rounds.
func medianRow(ss []sample) row {
	return row{
		rps:     median(collect(ss, func(s sample) float64 { return s.nonStream.rate() })),
		sps:     median(collect(ss, func(s sample) float64 { return s.stream.rate() })),
		cpuReq:  median(collect(ss, func(s sample) time.Duration { return s.cpuNonStream })),
		cpuStrm: median(collect(ss, func(s sample) time.Duration { return s.cpuStream })),
	}
}

// row is one target's medians over rounds.
type row struct {
	rps, sps        float64
	cpuReq, cpuStrm time.Duration
}

// report prints medians over rounds, ratios to the ReverseProxy, and
// ratios of every bridge variant to "bridge" (its stages on vs off, in
// the same run).
func report(w io.Writer, o options, targets []target, vs map[string]*variant, r runs, idle map[string]int64, held map[string][2]int64) {
	samples, pairs := r.samples, r.pairs
	fmt.Fprintf(w, "\nbridgebench — %s/%s, %d CPUs, %s; %d rounds (medians), %v phases, %d clients, %d content chunks per stream\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), o.rounds, o.d, o.workers, o.up.Chunks)
	var baseline, bridge string
	for _, t := range targets {
		desc := t.w.name + " (" + t.w.path + ")"
		if _, ok := vs[t.name]; ok {
			bridge = desc
		} else {
			baseline = desc
		}
	}
	fmt.Fprintf(w, "-api %s: the bridges are sent %s, the baselines %s\n", o.api, or(bridge, "-"), or(baseline, "-"))
	fmt.Fprintf(w, "%-14s %10s %9s %9s %10s | %10s %9s %9s %10s %5s %6s\n",
		"target", "req/s", "p50", "p99", "cpu/req", "streams/s", "ttft p50", "p99", "cpu/strm", "lost", "errors")
	rows := map[string]row{}
	for _, t := range targets {
		ss := samples[t.name]
		r := medianRow(ss)
		rows[t.name] = r
		lost, errs := 0, 0
		for _, s := range ss {
			lost += s.stream.lost + s.seqStr.lost
			errs += s.nonStream.errors + s.stream.errors + s.seqNonStream.errors + s.seqStr.errors
		}
		fmt.Fprintf(w, "%-14s %10.0f %9s %9s %10s | %10.0f %9s %9s %10s %5d %6d\n", t.name, r.rps,
			us(median(collect(ss, func(s sample) time.Duration { return pct(s.nonStream.lat, 0.5) }))),
			us(median(collect(ss, func(s sample) time.Duration { return pct(s.nonStream.lat, 0.99) }))),
			us(r.cpuReq),
			r.sps,
			us(median(collect(ss, func(s sample) time.Duration { return pct(s.stream.ttft, 0.5) }))),
			us(median(collect(ss, func(s sample) time.Duration { return pct(s.stream.ttft, 0.99) }))),
			us(r.cpuStrm),
			lost, errs)
	}
	if rp, ok := rows["reverseproxy"]; ok && rp.rps > 0 && rp.sps > 0 {
		reportRatios(w, targets, samples, pairs)
	}
	if b, ok := rows["bridge"]; ok && b.rps > 0 && b.sps > 0 {
		reportStages(w, targets, vs, r, b)
	}
	fmt.Fprintf(w, "\nread+write system calls of the front (/proc/<pid>/io), per request and per stream:\n")
	for _, t := range targets {
		ss := samples[t.name]
		fmt.Fprintf(w, "  %-14s %6.1f per request   %6.1f per stream\n", t.name,
			median(collect(ss, func(s sample) float64 { return s.sysNonStream })),
			median(collect(ss, func(s sample) float64 { return s.sysStream })))
	}
	if d, ok := samples["direct"]; ok {
		fmt.Fprintf(w, "\none request at a time (p50, added over direct):\n")
		base := median(collect(d, func(s sample) time.Duration { return pct(s.seqNonStream.lat, 0.5) }))
		baseTTFT := median(collect(d, func(s sample) time.Duration { return pct(s.seqStr.ttft, 0.5) }))
		for _, t := range targets {
			ss := samples[t.name]
			l := median(collect(ss, func(s sample) time.Duration { return pct(s.seqNonStream.lat, 0.5) }))
			f := median(collect(ss, func(s sample) time.Duration { return pct(s.seqStr.ttft, 0.5) }))
			fmt.Fprintf(w, "  %-14s latency %9s (%s)   first event %9s (%s)\n", t.name, us(l), signedUS(l-base), us(f), signedUS(f-baseTTFT))
		}
	}
	if len(held) > 0 {
		fmt.Fprintf(w, "\nmemory (RSS of the front's process):\n")
		for _, t := range targets {
			h := held[t.name]
			per := float64(h[1]-h[0]) / float64(o.hold) / 1024
			fmt.Fprintf(w, "  %-14s idle at start %6.1f MB   with %d streams open %7.1f MB   %6.1f KiB per open stream\n",
				t.name, float64(idle[t.name])/1e6, o.hold, float64(h[1])/1e6, per)
		}
	}
}

// ratioFns are the rates and CPU costs a target is compared by:
// non-streamed req/s, streams/s, CPU per request, CPU per stream.
var ratioFns = [4]func(sample) float64{
	func(s sample) float64 { return s.nonStream.rate() },
	func(s sample) float64 { return s.stream.rate() },
	func(s sample) float64 { return float64(s.cpuNonStream) },
	func(s sample) float64 { return float64(s.cpuStream) },
}

// runs are a run's samples: each target's rounds (samples), the proxy's
// just before each bridge variant's (pairs, -pair), and with
// -pair-stages each other variant's measured together with bridge
// (samples[name+"+"]) and bridge's of the same phases (stagePairs[name]).
type runs struct {
	samples, pairs, stagePairs map[string][]sample
}

// reportStages prints each variant against bridge (its stages on vs
// off). With -pair-stages each variant is set against bridge measured
// at the same time in each round: the medians of those ratios, and of
// the CPU differences in µs. Otherwise, with -pair, both sides are their
// paired ratios to the proxy, so the host's slow spells cancel out:
// variant/proxy ÷ bridge/proxy, and the CPU difference is that ratio
// applied to bridge's own CPU.
func reportStages(w io.Writer, targets []target, vs map[string]*variant, r runs, b row) {
	_, paired := r.pairs["bridge"]
	how := "medians, same run"
	switch {
	case len(r.stagePairs) > 0:
		how = "medians of the rounds that measured each variant together with bridge, each with half the clients (-pair-stages)"
	case paired:
		how = "each side's median ratio to the proxy measured just before it"
	}
	fmt.Fprintf(w, "\nstages on vs off: each variant / bridge (%s; %s):\n", vs["bridge"].stages, how)
	var bridgeRatios [4]float64 // bridge's paired ratios to the proxy
	for i, f := range ratioFns {
		bridgeRatios[i], _, _ = pairedRatio(r.samples["bridge"], r.pairs["bridge"], f)
	}
	for _, t := range targets {
		v, ok := vs[t.name]
		if !ok || t.name == "bridge" {
			continue
		}
		if bs, ok := r.stagePairs[t.name]; ok {
			reportStagePairs(w, t.name, v.stages, r.samples[t.name+"+"], bs)
			continue
		}
		m := medianRow(r.samples[t.name])
		ratios := [4]float64{m.rps / b.rps, m.sps / b.sps, float64(m.cpuReq) / float64(b.cpuReq), float64(m.cpuStrm) / float64(b.cpuStrm)}
		if ps, ok := r.pairs[t.name]; ok && paired {
			for i, f := range ratioFns {
				mv, _, _ := pairedRatio(r.samples[t.name], ps, f)
				ratios[i] = 0
				if bridgeRatios[i] > 0 {
					ratios[i] = mv / bridgeRatios[i]
				}
			}
		}
		fmt.Fprintf(w, "  %-14s req/s %5.2f×  streams/s %5.2f×  cpu/req %s  cpu/strm %s  [%s]\n", t.name,
			ratios[0], ratios[1], cpuChange(ratios[2], b.cpuReq), cpuChange(ratios[3], b.cpuStrm), v.stages)
	}
}

// reportStagePairs prints a variant (vs) against bridge measured at the
// same time in each round (bs): the medians of the throughput ratios and of the
// CPU differences, each with its lowest and highest round.
func reportStagePairs(w io.Writer, name, stages string, vs, bs []sample) {
	var ratios [2]string
	for i, f := range ratioFns[:2] {
		med, lo, hi := pairedRatio(vs, bs, f)
		ratios[i] = fmt.Sprintf("%5.2f× [%.2f–%.2f]", med, lo, hi)
	}
	var cpu [2]string
	for i, f := range ratioFns[2:] {
		var ds []float64
		for k := range min(len(vs), len(bs)) {
			if a, b := f(vs[k]), f(bs[k]); a > 0 && b > 0 {
				ds = append(ds, a-b)
			}
		}
		cpu[i] = "n/a"
		if len(ds) > 0 {
			us := func(d float64) string { return signedUS(time.Duration(d)) }
			cpu[i] = fmt.Sprintf("%s [%s – %s]", us(median(ds)), us(slices.Min(ds)), us(slices.Max(ds)))
		}
	}
	fmt.Fprintf(w, "  %-14s req/s %s  streams/s %s  cpu/req %s  cpu/strm %s  [%s]\n", name, ratios[0], ratios[1], cpu[0], cpu[1], stages)
}

// cpuChange is a CPU ratio to bridge's and what it comes to on bridge's
// CPU (base): "1.08× (+4µs)"; "n/a" without a ratio.
func cpuChange(ratio float64, base time.Duration) string {
	if ratio <= 0 || base <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%5.2f× (%s)", ratio, signedUS(time.Duration((ratio-1)*float64(base))))
}
