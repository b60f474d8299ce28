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
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
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
	fs.StringVar(&o.only, "targets", "direct,reverseproxy,bridge,bridge-store,bridge-nolog", "targets to measure")
	fs.StringVar(&o.store, "store", "", "bridge-store's usage store: SQLite path or postgres:// URL (default: a SQLite file in a temp dir)")
	fs.Parse(os.Args[1:])
	if err := bench(o); err != nil {
		log.Fatal(err)
	}
}

type options struct {
	rounds, workers, rate, hold int
	d                           time.Duration
	up                          upstreamParams
	only, store                 string
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
	url  string // chat completions URL
	proc *child // the front's process (the upstream for "direct")
}

// sample is one target's measurements in one round.
type sample struct {
	nonStream, stream    *result
	seqNonStream, seqStr *result
	cpuNonStream         time.Duration // front CPU per non-streamed request
	cpuStream            time.Duration // front CPU per stream
}

func bench(o options) error {
	logDir, err := os.MkdirTemp("", "bridgebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(logDir)
	up, err := start("upstream", "upstream", "-latency", o.up.Latency.String(), "-ttft", o.up.TTFT.String(),
		"-chunks", fmt.Sprint(o.up.Chunks), "-chunk-delay", o.up.ChunkDelay.String())
	if err != nil {
		return err
	}
	defer up.stop()
	rp, err := start("reverseproxy", "reverseproxy", "-target", up.url)
	if err != nil {
		return err
	}
	defer rp.stop()
	br, err := start("bridge", "bridge", "-target", up.url, "-logdir", logDir)
	if err != nil {
		return err
	}
	defer br.stop()
	brNoLog, err := start("bridge-nolog", "bridge", "-target", up.url, "-log=false")
	if err != nil {
		return err
	}
	defer brNoLog.stop()
	storeDSN := o.store
	if storeDSN == "" {
		storeDSN = filepath.Join(logDir, "usage.db")
	}
	brStore, err := start("bridge-store", "bridge", "-target", up.url, "-logdir", logDir, "-store", storeDSN)
	if err != nil {
		return err
	}
	defer brStore.stop()

	var targets []target
	all := []target{
		{"direct", up.url + "/v1/chat/completions", up},
		{"reverseproxy", rp.url + "/v1/chat/completions", rp},
		{"bridge", br.url + "/v1/chat/completions", br},
		{"bridge-store", brStore.url + "/v1/chat/completions", brStore},
		{"bridge-nolog", brNoLog.url + "/v1/chat/completions", brNoLog},
	}
	for _, t := range all {
		if strings.Contains(","+o.only+",", ","+t.name+",") {
			targets = append(targets, t)
		}
	}
	idle := map[string]int64{}
	for _, t := range targets {
		idle[t.name] = rss(t.proc.cmd.Process.Pid)
	}
	client := newClient(max(o.workers, o.hold) + 16)
	samples := map[string][]sample{}
	fmt.Fprintf(os.Stderr, "bridgebench: %d rounds × %d targets, %v per phase, %d clients", o.rounds, len(targets), o.d, o.workers)
	if o.rate > 0 {
		fmt.Fprintf(os.Stderr, ", open loop at %d req/s", o.rate)
	}
	fmt.Fprintln(os.Stderr)
	for round := range o.rounds {
		order := slices.Clone(targets)
		if round%2 == 1 {
			slices.Reverse(order) // interleave so drift hits every target alike
		}
		for _, t := range order {
			s := sample{}
			pid := t.proc.cmd.Process.Pid
			cpu0 := cpuTime(pid)
			s.nonStream = load(client, t.url, nonStreamBody, false, o)
			cpu1 := cpuTime(pid)
			s.stream = load(client, t.url, streamBody, true, o)
			cpu2 := cpuTime(pid)
			if s.nonStream.requests > 0 {
				s.cpuNonStream = (cpu1 - cpu0) / time.Duration(s.nonStream.requests)
			}
			if s.stream.requests > 0 {
				s.cpuStream = (cpu2 - cpu1) / time.Duration(s.stream.requests)
			}
			seq := o.d / 2
			s.seqNonStream = closedLoop(client, t.url, nonStreamBody, false, 1, seq)
			s.seqStr = closedLoop(client, t.url, streamBody, true, 1, seq)
			samples[t.name] = append(samples[t.name], s)
			fmt.Fprintf(os.Stderr, "  round %d %-13s %8.0f req/s %8.0f streams/s  lost %d  errors %d\n", round+1, t.name,
				s.nonStream.rate(), s.stream.rate(), s.stream.lost, s.nonStream.errors+s.stream.errors)
			for _, e := range append(s.nonStream.errSamples, s.stream.errSamples...) {
				fmt.Fprintf(os.Stderr, "    error: %s\n", e)
			}
		}
	}
	held := map[string][2]int64{}
	if o.hold > 0 {
		for _, t := range targets {
			pid := t.proc.cmd.Process.Pid
			before := rss(pid)
			var peak int64
			r := holdStreams(client, t.url, o.hold, 20, 100, func() { peak = rss(pid) })
			held[t.name] = [2]int64{before, peak}
			if r.errors > 0 {
				fmt.Fprintf(os.Stderr, "  held streams via %s: %d errors (%v)\n", t.name, r.errors, r.errSamples)
			}
		}
	}
	report(os.Stdout, o, targets, samples, idle, held)
	return checkStore(brStore, storeDSN)
}

// checkStore stops the bridge with the usage store gracefully (its writer
// drains; it prints what it got and stored) and counts the stored rows.
func checkStore(c *child, dsn string) error {
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
	fmt.Printf("\nusage store after the run: %d requests in the daily totals, cost %s USD\n", rep.Totals.Requests, fmtCost(rep.Totals.Cost()))
	return nil
}

func fmtCost(c *float64) string {
	if c == nil {
		return "unknown"
	}
	return fmt.Sprint(*c)
}

func load(c *httpClient, url, body string, stream bool, o options) *result {
	if o.rate > 0 {
		return openLoop(c, url, body, stream, o.rate, o.d)
	}
	return closedLoop(c, url, body, stream, o.workers, o.d)
}
