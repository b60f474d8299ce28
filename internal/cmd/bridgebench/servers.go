package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/requestlog"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// benchKey is the access key of the bridge under test.
const benchKey = "bench-access-key"

// listen opens addr and announces it on stdout for the parent process.
func listen(addr string) net.Listener {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ready %s\n", ln.Addr())
	return ln
}

// serve runs h until the process is killed.
func serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	log.Fatal(srv.Serve(ln))
}

// upstreamParams shape the mock's answer; a request may override them with
// a "bench" member in its JSON body (which the bridge passes through).
type upstreamParams struct {
	Latency    time.Duration // non-streaming: time to the response
	TTFT       time.Duration // streaming: time to the first event
	Chunks     int           // content chunks per stream
	ChunkDelay time.Duration // between chunks
}

// runUpstream is the mock OpenAI upstream: instant by default, answering
// in OpenAI's exact wire format with usage.
func runUpstream(args []string) {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	var p upstreamParams
	fs.DurationVar(&p.Latency, "latency", 0, "non-streaming latency")
	fs.DurationVar(&p.TTFT, "ttft", 0, "time to first token")
	fs.IntVar(&p.Chunks, "chunks", 20, "content chunks per stream (plus role, finish and usage: 20 → 23 events)")
	fs.DurationVar(&p.ChunkDelay, "chunk-delay", 0, "delay between chunks")
	fs.Parse(args)
	serve(listen(*addr), mockUpstream(p))
}

var (
	nonStreamReply = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1742905314,"model":"m","service_tier":"default","system_fingerprint":"fp_bench","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"The name mentioned in the audio is Marcelo.","refusal":null,"annotations":[]}}],"usage":{"prompt_tokens":64,"completion_tokens":9,"total_tokens":73}}`)
	chunkHead      = `{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1782955817,"model":"m","system_fingerprint":"fp_bench","choices":`
	roleEvent      = []byte("data: " + chunkHead + `[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	wordEvent      = []byte("data: " + chunkHead + `[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"qfQVOwfh"}` + "\n\n")
	finishEvent    = []byte("data: " + chunkHead + `[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}` + "\n\n")
	usageEvent     = []byte("data: " + chunkHead + `[],"usage":{"prompt_tokens":53,"completion_tokens":20,"total_tokens":73}}` + "\n\n")
	doneEvent      = []byte("data: [DONE]\n\n")
)

func mockUpstream(def upstreamParams) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p := def
		var req struct {
			Stream bool `json:"stream"`
			Bench  *struct {
				Chunks  int `json:"chunks"`
				DelayMS int `json:"delay_ms"`
			} `json:"bench"`
		}
		if bytes.Contains(body, []byte(`"bench"`)) || bytes.Contains(body, []byte(`"stream"`)) {
			_ = json.Unmarshal(body, &req)
		}
		if req.Bench != nil {
			p.Chunks, p.ChunkDelay = req.Bench.Chunks, time.Duration(req.Bench.DelayMS)*time.Millisecond
		}
		if !req.Stream {
			sleep(r, p.Latency)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(nonStreamReply)))
			w.Write(nonStreamReply)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		rc := http.NewResponseController(w)
		sleep(r, p.TTFT)
		send := func(b []byte) bool {
			if _, err := w.Write(b); err != nil {
				return false
			}
			return rc.Flush() == nil
		}
		if !send(roleEvent) {
			return
		}
		for range p.Chunks {
			if !sleep(r, p.ChunkDelay) || !send(wordEvent) {
				return
			}
		}
		for _, ev := range [][]byte{finishEvent, usageEvent, doneEvent} {
			if !send(ev) {
				return
			}
		}
	})
}

func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// runReverseProxy is the floor: httputil.ReverseProxy with a pool sized
// like the bridge's (Go's default of 2 idle connections per host would
// only measure connection churn).
func runReverseProxy(args []string) {
	fs := flag.NewFlagSet("reverseproxy", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	target := fs.String("target", "", "upstream base URL")
	fs.Parse(args)
	u, err := url.Parse(*target)
	if err != nil {
		log.Fatal(err)
	}
	buffer := os.Getenv("BRIDGEBENCH_RP_BUFFER") != ""
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		if buffer {
			// Experiment: read the inbound body before proxying (what the
			// bridge does), to test the README's explanation of
			// ReverseProxy's lost streams.
			b, _ := io.ReadAll(pr.Out.Body)
			pr.Out.Body = io.NopCloser(bytes.NewReader(b))
			pr.Out.ContentLength = int64(len(b))
		}
	}}
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true}
	rp.ErrorLog = log.New(io.Discard, "", 0)
	if os.Getenv("BRIDGEBENCH_RP_ERRORS") != "" {
		rp.ErrorLog = log.New(os.Stderr, "reverseproxy: ", 0)
	}
	serve(listen(*addr), rp)
}

// runBridge serves the bridge with one OpenAI-compatible provider, with the
// request log on (as users run it) unless -log=false, and the usage store
// when -store names one. On SIGTERM it drains the usage writer and prints
// how many records it got and stored.
func runBridge(args []string) {
	fs := flag.NewFlagSet("bridge", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	target := fs.String("target", "", "upstream base URL")
	withLog := fs.Bool("log", true, "write the request log")
	logDir := fs.String("logdir", os.TempDir(), "directory for the request log")
	store := fs.String("store", "", "usage store: SQLite path or postgres:// URL (empty: none)")
	fs.Parse(args)
	opts := []llmbridge.Option{
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "mock", BaseURL: *target + "/v1", Models: []string{"m"}})),
		llmbridge.WithAccessKeys(benchKey),
	}
	if *withLog {
		w, err := requestlog.Open(requestlog.Options{Path: filepath.Join(*logDir, "requests.log")})
		if err != nil {
			log.Fatal(err)
		}
		opts = append(opts, llmbridge.WithUsageSink(w.Record))
		go reportDrops(w)
	}
	if *store != "" {
		st, err := usage.Open(context.Background(), *store)
		if err != nil {
			log.Fatal(err)
		}
		// The mock model priced like gpt-4o-mini, so every record is costed.
		prices := usage.DefaultPrices().Merge(usage.Prices{"mock/m": usage.DefaultPrices()["openai/gpt-4o-mini"]})
		w, err := usage.NewWriter(st, usage.WriterOptions{Prices: prices})
		if err != nil {
			log.Fatal(err)
		}
		var records atomic.Int64
		opts = append(opts, llmbridge.WithUsageSink(func(r llmbridge.UsageRecord) { records.Add(1); w.Record(r) }))
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		go func() {
			<-term
			err := w.Close(30 * time.Second)
			fmt.Fprintf(os.Stderr, "bridge: usage store: %d records, %d stored, %d dropped, %d waiting (err %v)\n",
				records.Load(), w.Written(), w.Dropped(), w.Pending(), err)
			os.Exit(0)
		}()
	}
	b, err := llmbridge.New(opts...)
	if err != nil {
		log.Fatal(err)
	}
	serve(listen(*addr), b)
}

// reportDrops reports dropped request-log records on stderr (the process
// runs until the parent kills it).
func reportDrops(w *requestlog.Writer) {
	last := int64(0)
	for range time.Tick(time.Second) {
		if d := w.Dropped(); d != last {
			fmt.Fprintf(os.Stderr, "bridge: request log dropped %d records\n", d)
			last = d
		}
	}
}

// readyAddr reads the child's "ready <addr>" line.
func readyAddr(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		return "", err
	}
	var addr string
	if _, err := fmt.Sscanf(line, "ready %s", &addr); err != nil {
		return "", fmt.Errorf("unexpected child output %q", line)
	}
	return addr, nil
}
