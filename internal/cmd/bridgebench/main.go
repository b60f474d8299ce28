// Command bridgebench measures what the bridge adds. It starts a mock
// OpenAI upstream, an httputil.ReverseProxy (the floor) and the bridge
// (with and without its request log) as separate processes, drives them
// over loopback in interleaved rounds — direct to the upstream, then
// through each front — and prints medians and ratios to the ReverseProxy:
// throughput, latency, time to first event, CPU per request and memory per
// open stream, read from /proc.
//
//	go run ./internal/cmd/bridgebench                 # the full table
//	go run ./internal/cmd/bridgebench -rounds 1 -d 2s # a quick look
//	go run ./internal/cmd/bridgebench -rate 2000      # open loop at a fixed rate
//
// The subcommands upstream, reverseproxy and bridge run one server each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/llmbridge/llmbridge/internal/usage"
)

func main() {
	log.SetFlags(0)
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "upstream":
			runUpstream(os.Args[2:])
			return
		case "reverseproxy":
			runReverseProxy(os.Args[2:])
			return
		case "bridge":
			runBridge(os.Args[2:])
			return
		}
	}
	fs := flag.NewFlagSet("bridgebench", flag.ExitOnError)
	o := options{}
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved rounds; medians are reported")
	fs.DurationVar(&o.d, "d", 3*time.Second, "duration of each load phase")
	fs.IntVar(&o.workers, "c", 50, "concurrent clients (closed loop)")
	fs.IntVar(&o.rate, "rate", 0, "open loop: requests per second instead of the closed loop")
	fs.IntVar(&o.hold, "hold", 1000, "streams held open at once for the memory measurement (0 skips it)")
	fs.DurationVar(&o.up.Latency, "latency", 0, "mock upstream: non-streaming latency")
	fs.DurationVar(&o.up.TTFT, "ttft", 0, "mock upstream: time to first token")
	fs.IntVar(&o.up.Chunks, "chunks", 20, "mock upstream: content chunks per stream (events = chunks + 3)")
	fs.DurationVar(&o.up.ChunkDelay, "chunk-delay", 0, "mock upstream: delay between chunks")
	fs.StringVar(&o.only, "targets", "direct,reverseproxy,"+strings.Join(bridgeVariants, ","), "targets to measure: direct, reverseproxy and the bridge variants "+strings.Join(bridgeVariants, ", "))
	fs.StringVar(&o.store, "store", "", "bridge-store's usage store: SQLite path or postgres:// URL (default: a SQLite file in a temp dir; bridge-all always has its own SQLite file)")
	fs.StringVar(&o.api, "api", "chat", "workload: chat (Chat Completions), messages (Anthropic Messages translated to the OpenAI mock; baselines send Chat Completions) messages-native (Messages passed through to the Anthropic mock; baselines send the same) or responses (OpenAI Responses translated to the OpenAI mock; baselines send Chat Completions)")
	fs.IntVar(&o.liveSubs, "live-subs", 1, "live-feed subscribers in bridge-metrics and bridge-all (an open dashboard)")
	fs.IntVar(&o.cacheMB, "cache-mb", 256, "bridge-cache and bridge-all: the memory response cache's bound in MiB")
	fs.BoolVar(&o.pair, "pair", true, "measure reverseproxy again right before each bridge variant in every round, and report each variant's ratios to the proxy as the median of those pairs' (a shared host's slow spells, minutes long, then hit both sides of a ratio alike)")
	fs.BoolVar(&o.pairStages, "pair-stages", false, "measure each other bridge variant again in every round together with bridge, each with half the clients, and report each variant's stages on vs off as the medians of those rounds (with the proxy's pairs too, a round of every variant takes up to half as long again)")
	fs.BoolVar(&o.tls, "tls", false, "the mock upstream serves HTTPS with HTTP/2 by ALPN, as every hosted provider does (the fronts share a few connections instead of one per stream); the fronts are still called over plain HTTP")
	fs.BoolVar(&o.unique, "unique", true, "number every request's prompt, so no two are equal and a response cache misses every one (bridge-cache, bridge-all: the cache's miss overhead); -unique=false repeats the same requests (bridge-cache answers them from its cache: hits)")
	fs.Parse(os.Args[1:])
	if err := bench(o); err != nil {
		log.Fatal(err)
	}
}

type options struct {
	rounds, workers, rate, hold int
	d                           time.Duration
	up                          upstreamParams
	only, store, api            string
	liveSubs, cacheMB           int
	unique, tls, pair           bool
	pairStages                  bool
}

// child is one server process.
type child struct {
	name string
	cmd  *exec.Cmd
	url  string
}

func start(name string, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addr, err := readyAddr(out)
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go io.Copy(io.Discard, out)
	return &child{name: name, cmd: cmd, url: "http://" + addr}, nil
}

func (c *child) stop() { c.cmd.Process.Kill(); c.cmd.Wait() }

// target is what a load phase talks to and whose process it samples.
type target struct {
	name string
	base string   // the front's base URL
	key  string   // the access key or virtual key it is called with
	w    workload // what it is sent
	proc *child   // the front's process (the upstream for "direct")

	unique *atomic.Uint64 // numbers the prompts (-unique); nil: repeated bodies
	scrape string         // its Prometheus metrics' URL, scraped every second under load ("": none)
}

// measure runs t's two load phases (non-streamed, then streams) and, with
// seq, its one-at-a-time latencies, sampling t's process around each.
func measure(client *httpClient, t *target, o options, seq bool) sample {
	s := measureAll(client, []*target{t}, o)[0]
	if seq {
		s.seqNonStream = closedLoop(client, t.call(t.w.nonStream, false), 1, o.d/2)
		s.seqStr = closedLoop(client, t.call(t.w.stream, true), 1, o.d/2)
	}
	return s
}

// measureAll runs the load phases (non-streamed, then streams) of every
// target in ts at the same time, the clients (or the rate) shared out
// among them, sampling each process around each phase; each target's
// metrics are scraped once a second meanwhile, as Prometheus would. Run
// together (-pair-stages), targets share the host's slow spells and its
// noisy neighbours second by second, so their difference is their own.
func measureAll(client *httpClient, ts []*target, o options) []sample {
	share := o
	share.workers = max(1, o.workers/len(ts))
	if o.rate > 0 {
		share.rate = max(1, o.rate/len(ts)) // still the open loop
	}
	out := make([]sample, len(ts))
	calls := make([][2]*call, len(ts))
	pids := make([]int, len(ts))
	for i, t := range ts {
		if t.scrape != "" {
			stop := scrapeEvery(client, t.scrape, time.Second)
			defer stop()
		}
		pids[i] = t.proc.cmd.Process.Pid
		calls[i] = [2]*call{t.call(t.w.nonStream, false), t.call(t.w.stream, true)}
	}
	cpu0, sys0, rs := make([]time.Duration, len(ts)), make([]int64, len(ts)), make([]*result, len(ts))
	for phase := range 2 {
		for i, pid := range pids {
			cpu0[i], sys0[i] = cpuTime(pid), syscallCount(pid)
		}
		var wg sync.WaitGroup
		for i := range ts {
			wg.Go(func() { rs[i] = load(client, calls[i][phase], share) })
		}
		wg.Wait()
		for i, pid := range pids {
			out[i].set(phase == 1, rs[i], cpuTime(pid)-cpu0[i], syscallCount(pid)-sys0[i])
		}
	}
	return out
}

// set keeps a load phase's result and the process's CPU time and system
// calls over it, per request: the streams' phase when stream, the
// non-streamed one otherwise.
func (s *sample) set(stream bool, r *result, cpu time.Duration, sys int64) {
	res, perCPU, perSys := &s.nonStream, &s.cpuNonStream, &s.sysNonStream
	if stream {
		res, perCPU, perSys = &s.stream, &s.cpuStream, &s.sysStream
	}
	*res = r
	if r.requests > 0 {
		*perCPU = cpu / time.Duration(r.requests)
		*perSys = float64(sys) / float64(r.requests)
	}
}

// printRound prints a sample as its round ends, with its errors.
func printRound(round int, name string, s sample) {
	fmt.Fprintf(os.Stderr, "  round %d %-14s %8.0f req/s %8.0f streams/s  cpu %4dµs/req %4dµs/strm  lost %d  errors %d\n", round+1, name,
		s.nonStream.rate(), s.stream.rate(), s.cpuNonStream.Microseconds(), s.cpuStream.Microseconds(), s.stream.lost, s.nonStream.errors+s.stream.errors)
	for _, e := range append(s.nonStream.errSamples, s.stream.errSamples...) {
		fmt.Fprintf(os.Stderr, "    error: %s\n", e)
	}
}

// scrapeEvery GETs url every period until stop is called, reading each
// answer to its end; a failed scrape is reported on stderr.
func scrapeEvery(client *httpClient, url string, period time.Duration) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*period) // a stalled scrape must not hang the run
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := client.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %s", resp.Status)
				}
			}
			cancel()
			if err != nil {
				fmt.Fprintf(os.Stderr, "bridgebench: scraping %s: %v\n", url, err)
			}
		}
	}()
	return func() { close(done); <-exited }
}

// call is a request of t's workload with body.
func (t *target) call(body string, stream bool) *call {
	return &call{url: t.base + t.w.path, key: t.key, body: body, stream: stream, anthropic: t.w.anthropic, responses: t.w.responses, unique: t.unique}
}

// sample is one target's measurements in one round.
type sample struct {
	nonStream, stream    *result
	seqNonStream, seqStr *result
	cpuNonStream         time.Duration // front CPU per non-streamed request
	cpuStream            time.Duration // front CPU per stream
	sysNonStream         float64       // front read+write system calls per non-streamed request
	sysStream            float64       // and per stream
}

// variant is one bridge process: its name (a -targets entry), the
// stages it switches on and the flags that do.
type variant struct {
	name, stages string
	args         []string
	storeDSN     string // usage store checked after the run ("": none)
	keyDSN       string // store holding its virtual key ("": access key)
	shipped      string // the standalone server's directory: run it (startShipped), not a bridge child
}

// Every bridge variant, in the order of the report.
var bridgeVariants = []string{"bridge", "bridge-store", "bridge-nolog", "bridge-metrics", "bridge-limits", "bridge-cache", "bridge-all", "server"}

// variants returns the bridge variants' flags, each with its own files
// under dir.
func variants(dir, store string, liveSubs, cacheMB int) map[string]*variant {
	sub := func(name string) string {
		d := filepath.Join(dir, name)
		_ = os.MkdirAll(d, 0o700)
		return d
	}
	if store == "" {
		store = filepath.Join(sub("bridge-store"), "usage.db")
	}
	subs := fmt.Sprint(liveSubs)
	allStore := filepath.Join(sub("bridge-all"), "usage.db")
	limitsKeys := filepath.Join(sub("bridge-limits"), "keys.db")
	return map[string]*variant{
		"bridge":       {name: "bridge", stages: "request log", args: []string{"-logdir", sub("bridge")}},
		"bridge-nolog": {name: "bridge-nolog", stages: "nothing: no request log", args: []string{"-log=false"}},
		"bridge-store": {name: "bridge-store", stages: "request log + usage store", storeDSN: store,
			args: []string{"-logdir", sub("bridge-store"), "-store", store}},
		"bridge-metrics": {name: "bridge-metrics", stages: "request log + metrics + live hub (" + subs + " subscribers)",
			args: []string{"-logdir", sub("bridge-metrics"), "-metrics", "-live-subs", subs}},
		"bridge-limits": {name: "bridge-limits", stages: "request log + virtual key with in-process limits", keyDSN: limitsKeys,
			args: []string{"-logdir", sub("bridge-limits"), "-keys", limitsKeys}},
		"bridge-cache": {name: "bridge-cache", stages: "request log + response cache (memory, every request cacheable)",
			args: []string{"-logdir", sub("bridge-cache"), "-cache", "-cache-mb", fmt.Sprint(cacheMB)}},
		"bridge-all": {name: "bridge-all", stages: "request log + usage store + metrics + live hub + limits + response cache", storeDSN: allStore, keyDSN: allStore,
			args: []string{"-logdir", sub("bridge-all"), "-store", allStore, "-metrics", "-live-subs", subs, "-keys", allStore, "-cache", "-cache-mb", fmt.Sprint(cacheMB)}},
		"server": {name: "server", stages: "the server as shipped: request log, SQLite usage store, metrics, live hub, console log", shipped: sub("server")},
	}
}

// workloads returns what the baselines (direct, reverseproxy) and the
// bridges are sent for -api.
func workloads(api string) (baseline, bridge workload, err error) {
	switch api {
	case "chat":
		return chatWorkload, chatWorkload, nil
	case "messages":
		// The bridge translates to the OpenAI mock: the baselines are the
		// OpenAI requests that reach it.
		return chatWorkload, messagesWorkload("messages", "mock/m"), nil
	case "responses":
		// The bridge translates to the OpenAI mock: the baselines are the
		// OpenAI requests that reach it.
		return chatWorkload, responsesWorkload(), nil
	case "messages-native":
		// The bridge passes through to the Anthropic mock: the baselines
		// send it the same Messages requests.
		w := messagesWorkload("messages-native", anthropicProvider+"/m")
		return w, w, nil
	}
	return workload{}, workload{}, fmt.Errorf("-api %q: want chat, messages, messages-native or responses", api)
}

func bench(o options) error {
	baseW, bridgeW, err := workloads(o.api)
	if err != nil {
		return err
	}
	selected := func(name string) bool { return strings.Contains(","+o.only+",", ","+name+",") }
	dir, err := os.MkdirTemp("", "bridgebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	upArgs := []string{"upstream", "-latency", o.up.Latency.String(), "-ttft", o.up.TTFT.String(),
		"-chunks", fmt.Sprint(o.up.Chunks), "-chunk-delay", o.up.ChunkDelay.String()}
	if o.tls {
		cert, key, err := selfSigned(dir)
		if err != nil {
			return err
		}
		upArgs = append(upArgs, "-cert", cert, "-key", key)
		// Every process started from here on, and this one's client of the
		// direct target, trusts the mock as a provider's certificate.
		os.Setenv("SSL_CERT_FILE", cert)
	}
	up, err := start("upstream", upArgs...)
	if err != nil {
		return err
	}
	defer up.stop()
	if o.tls {
		up.url = "https://" + strings.TrimPrefix(up.url, "http://")
	}
	var targets []target
	if selected("direct") {
		targets = append(targets, target{name: "direct", base: up.url, key: benchKey, w: baseW, proc: up})
	}
	if selected("reverseproxy") {
		// With paced events the proxy's streamed request bodies lose more
		// than a tenth of its streams (README), which fails its warm-up:
		// it reads each body first then, as the bridge always does.
		buffer := o.up.ChunkDelay > 0 || os.Getenv("BRIDGEBENCH_RP_BUFFER") != ""
		if buffer {
			fmt.Fprintln(os.Stderr, "bridgebench: reverseproxy reads each request body before proxying it (paced events, or BRIDGEBENCH_RP_BUFFER)")
		}
		rp, err := start("reverseproxy", "reverseproxy", "-target", up.url, fmt.Sprintf("-buffer=%t", buffer))
		if err != nil {
			return err
		}
		defer rp.stop()
		targets = append(targets, target{name: "reverseproxy", base: rp.url, key: benchKey, w: baseW, proc: rp})
	}
	vs := variants(dir, o.store, o.liveSubs, o.cacheMB)
	var stored []*variant
	procs := map[string]*child{}
	for _, name := range bridgeVariants {
		v := vs[name]
		if !selected(name) {
			continue
		}
		key := benchKey
		if v.keyDSN != "" {
			if key, err = createBenchKey(v.keyDSN); err != nil {
				return fmt.Errorf("%s: creating its virtual key: %w", name, err)
			}
		}
		var c *child
		if v.shipped != "" {
			c, v.storeDSN, err = startShipped(v.shipped, up.url)
		} else {
			c, err = start(name, append([]string{"bridge", "-target", up.url}, v.args...)...)
		}
		if err != nil {
			return err
		}
		defer c.stop()
		procs[name] = c
		t := target{name: name, base: c.url, key: key, w: bridgeW, proc: c}
		if v.shipped != "" || slices.Contains(v.args, "-metrics") {
			t.scrape = c.url + "/metrics"
		}
		targets = append(targets, t)
		if v.storeDSN != "" {
			stored = append(stored, v)
		}
	}
	if len(targets) == 0 {
		return fmt.Errorf("-targets %q names none of direct, reverseproxy, %s", o.only, strings.Join(bridgeVariants, ", "))
	}

	if o.unique {
		for i := range targets {
			targets[i].unique = new(atomic.Uint64)
		}
	}
	idle := map[string]int64{}
	for _, t := range targets {
		idle[t.name] = rss(t.proc.cmd.Process.Pid)
	}
	client := newClient(max(o.workers, o.hold) + 16)
	for _, t := range targets {
		if err := warmUp(client, &t); err != nil {
			return fmt.Errorf("warming up %s: %w", t.name, err)
		}
	}
	fmt.Fprintf(os.Stderr, "bridgebench: %d rounds × %d targets, %v per phase, %d clients, -api %s", o.rounds, len(targets), o.d, o.workers, o.api)
	if o.rate > 0 {
		fmt.Fprintf(os.Stderr, ", open loop at %d req/s", o.rate)
	}
	fmt.Fprintln(os.Stderr)
	samples, pairs, stagePairs := runRounds(client, o, targets, vs)
	held := map[string][2]int64{}
	if o.hold > 0 {
		for i := range targets {
			t := &targets[i]
			pid := t.proc.cmd.Process.Pid
			before := rss(pid)
			var peak int64
			r := holdStreams(client, t, o.hold, 20, 100, func() { peak = rss(pid) })
			held[t.name] = [2]int64{before, peak}
			if r.errors > 0 {
				fmt.Fprintf(os.Stderr, "  held streams via %s: %d errors (%v)\n", t.name, r.errors, r.errSamples)
			}
		}
	}
	report(os.Stdout, o, targets, vs, runs{samples, pairs, stagePairs}, idle, held)
	var errs []error
	for _, v := range stored {
		if err := checkStore(v.name, procs[v.name], v.storeDSN); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v.name, err))
		}
	}
	return errors.Join(errs...)
}

// runRounds measures every target o.rounds times, every other round in
// reverse order so that drift hits every target alike. With -pair the
// proxy is measured again right before each bridge variant (pairs), and
// with -pair-stages each other variant is measured again together with
// bridge (measureAll: samples[name+"+"] and stagePairs[name]).
func runRounds(client *httpClient, o options, targets []target, vs map[string]*variant) (samples, pairs, stagePairs map[string][]sample) {
	var rp, br *target
	for i := range targets {
		switch {
		case targets[i].name == "reverseproxy" && o.pair:
			rp = &targets[i]
		case targets[i].name == "bridge" && o.pairStages:
			br = &targets[i]
		}
	}
	samples, pairs, stagePairs = map[string][]sample{}, map[string][]sample{}, map[string][]sample{}
	again := func(round int, t *target, into map[string][]sample, name string) {
		s := measure(client, t, o, false)
		into[name] = append(into[name], s)
		printRound(round, t.name+"*", s)
	}
	together := func(round int, t *target) {
		ss := measureAll(client, []*target{t, br}, o)
		samples[t.name+"+"] = append(samples[t.name+"+"], ss[0])
		stagePairs[t.name] = append(stagePairs[t.name], ss[1])
		printRound(round, t.name+"+", ss[0])
		printRound(round, br.name+"+", ss[1])
	}
	for round := range o.rounds {
		order := slices.Clone(targets)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, t := range order {
			_, variant := vs[t.name]
			if variant && rp != nil {
				again(round, rp, pairs, t.name)
			}
			s := measure(client, &t, o, true)
			samples[t.name] = append(samples[t.name], s)
			printRound(round, t.name, s)
			if variant && br != nil && t.name != "bridge" {
				together(round, &t)
			}
		}
	}
	return samples, pairs, stagePairs
}

// warmUp sends t a few requests of each kind before anything is
// measured (after its idle RSS is read), so one-time work — connection
// pools, the token counter's tables that the limits' TPM estimate loads —
// is not charged to the first phase. A target that cannot answer at all
// is an error (it would only measure its errors); a few failures are not
// (the plain ReverseProxy loses streams by design, see the README).
func warmUp(hc *httpClient, t *target) error {
	for _, c := range []*call{t.call(t.w.nonStream, false), t.call(t.w.stream, true)} {
		r := closedLoop(hc, c, 4, 200*time.Millisecond)
		if r.requests == 0 || r.errors*10 > r.requests {
			return fmt.Errorf("%d answers, %d errors %v", r.requests, r.errors, r.errSamples)
		}
	}
	return nil
}

// checkStore stops a bridge with a usage store gracefully (its writer
// drains; it prints what it got and stored) and counts the stored rows.
func checkStore(name string, c *child, dsn string) error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	_ = c.cmd.Wait()
	st, err := usage.Open(context.Background(), dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.Report(context.Background(), usage.Query{From: "2000-01-01", To: "2100-01-01"})
	if err != nil {
		return err
	}
	fmt.Printf("\n%s: usage store after the run: %d requests in the daily totals, cost %s USD\n", name, rep.Totals.Requests, fmtCost(rep.Totals.Cost()))
	return nil
}

func fmtCost(c *float64) string {
	if c == nil {
		return "unknown"
	}
	return fmt.Sprint(*c)
}

func load(hc *httpClient, c *call, o options) *result {
	if o.rate > 0 {
		return openLoop(hc, c, o.rate, o.d)
	}
	return closedLoop(hc, c, o.workers, o.d)
}
