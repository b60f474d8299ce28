package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	_ "net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/cache/memory"
	"github.com/llmbridge/llmbridge/internal/keys"
	"github.com/llmbridge/llmbridge/internal/live"
	"github.com/llmbridge/llmbridge/internal/metrics"
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
// a marker anywhere in its body — "[bench chunks=20 delay_ms=100]", in a
// message's text — which survives the bridge's pass-through and its
// translation from the Messages API alike.
type upstreamParams struct {
	Latency    time.Duration // non-streaming: time to the response
	TTFT       time.Duration // streaming: time to the first event
	Chunks     int           // content chunks per stream
	ChunkDelay time.Duration // between chunks
}

// runUpstream is the mock upstream: instant by default, answering in
// OpenAI's exact wire format with usage on /v1/chat/completions and in
// Anthropic's on /v1/messages.
func runUpstream(args []string) {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	var p upstreamParams
	fs.DurationVar(&p.Latency, "latency", 0, "non-streaming latency")
	fs.DurationVar(&p.TTFT, "ttft", 0, "time to first token")
	fs.IntVar(&p.Chunks, "chunks", 20, "content chunks per stream (plus role, finish and usage: 20 → 23 events)")
	fs.DurationVar(&p.ChunkDelay, "chunk-delay", 0, "delay between chunks")
	cert := fs.String("cert", "", "serve HTTPS (HTTP/2 by ALPN) with this certificate (PEM), -key its key")
	key := fs.String("key", "", "the -cert's private key (PEM)")
	fs.Parse(args)
	if *cert != "" {
		srv := &http.Server{Handler: mockUpstream(p), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
		log.Fatal(srv.ServeTLS(listen(*addr), *cert, *key))
	}
	serve(listen(*addr), mockUpstream(p))
}

// wireEvents are one wire format's canned answers: a non-streamed body
// and the stream's events before, per and after the content chunks.
type wireEvents struct {
	reply       []byte
	head        [][]byte
	chunk       []byte
	tail        [][]byte
	contentType string
}

var (
	chunkHead = `{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1782955817,"model":"m","system_fingerprint":"fp_bench","choices":`
	// openaiWire is OpenAI's Chat Completions (wire-formats.md §1).
	openaiWire = wireEvents{
		reply: []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1742905314,"model":"m","service_tier":"default","system_fingerprint":"fp_bench","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"The name mentioned in the audio is Marcelo.","refusal":null,"annotations":[]}}],"usage":{"prompt_tokens":64,"completion_tokens":9,"total_tokens":73}}`),
		head:  [][]byte{[]byte("data: " + chunkHead + `[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")},
		chunk: []byte("data: " + chunkHead + `[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"qfQVOwfh"}` + "\n\n"),
		tail: [][]byte{
			[]byte("data: " + chunkHead + `[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}` + "\n\n"),
			[]byte("data: " + chunkHead + `[],"usage":{"prompt_tokens":53,"completion_tokens":20,"total_tokens":73}}` + "\n\n"),
			[]byte("data: [DONE]\n\n"),
		},
		contentType: "text/event-stream; charset=utf-8",
	}
	// anthropicWire is Anthropic's Messages API (wire-formats.md §4, §6.5):
	// named events, usage in message_start and message_delta, no [DONE].
	anthropicWire = wireEvents{
		reply: []byte(`{"id":"msg_bench","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"The name mentioned in the audio is Marcelo."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":64,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":9}}`),
		head: [][]byte{
			[]byte("event: message_start\ndata: " + `{"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","content":[],"model":"m","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":53,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}` + "\n\n"),
			[]byte("event: content_block_start\ndata: " + `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}` + "\n\n"),
		},
		chunk: []byte("event: content_block_delta\ndata: " + `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" word"}}` + "\n\n"),
		tail: [][]byte{
			[]byte("event: content_block_stop\ndata: " + `{"type":"content_block_stop","index":0}` + "\n\n"),
			[]byte("event: message_delta\ndata: " + `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":20}}` + "\n\n"),
			[]byte("event: message_stop\ndata: " + `{"type":"message_stop"}` + "\n\n"),
		},
		contentType: "text/event-stream; charset=utf-8",
	}
)

// benchMarker starts the per-request override of upstreamParams.
var benchMarker = []byte("[bench ")

// benchOverride reads "[bench chunks=N delay_ms=M]" from body into p.
func benchOverride(body []byte, p *upstreamParams) {
	i := bytes.Index(body, benchMarker)
	if i < 0 {
		return
	}
	var chunks, delay int
	if _, err := fmt.Sscanf(string(body[i+len(benchMarker):min(len(body), i+len(benchMarker)+64)]), "chunks=%d delay_ms=%d]", &chunks, &delay); err == nil {
		p.Chunks, p.ChunkDelay = chunks, time.Duration(delay)*time.Millisecond
	}
}

func mockUpstream(def upstreamParams) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p := def
		benchOverride(body, &p)
		var req struct {
			Stream bool `json:"stream"`
		}
		if bytes.Contains(body, []byte(`"stream"`)) {
			_ = json.Unmarshal(body, &req)
		}
		wire := &openaiWire
		if strings.HasSuffix(r.URL.Path, "/messages") {
			wire = &anthropicWire
		}
		if !req.Stream {
			sleep(r, p.Latency)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(wire.reply)))
			w.Write(wire.reply)
			return
		}
		w.Header().Set("Content-Type", wire.contentType)
		w.Header().Set("Cache-Control", "no-cache")
		rc := http.NewResponseController(w)
		sleep(r, p.TTFT)
		send := func(b []byte) bool {
			if _, err := w.Write(b); err != nil {
				return false
			}
			return rc.Flush() == nil
		}
		for _, ev := range wire.head {
			if !send(ev) {
				return
			}
		}
		for range p.Chunks {
			if !sleep(r, p.ChunkDelay) || !send(wire.chunk) {
				return
			}
		}
		for _, ev := range wire.tail {
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
	buffered := fs.Bool("buffer", false, "read each request body before proxying it")
	fs.Parse(args)
	u, err := url.Parse(*target)
	if err != nil {
		log.Fatal(err)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		if *buffered {
			// Read the inbound body before proxying (what the bridge
			// does): the README's explanation of ReverseProxy's lost
			// streams, and what paced runs need.
			b, _ := io.ReadAll(pr.Out.Body)
			pr.Out.Body = io.NopCloser(bytes.NewReader(b))
			pr.Out.ContentLength = int64(len(b))
		}
	}}
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true}
	rp.ErrorLog = log.New(io.Discard, "", 0)
	if a := os.Getenv("BRIDGEBENCH_PPROF"); a != "" {
		go func() { log.Println(http.ListenAndServe(a, nil)) }() // to compare profiles with a bridge's: run it alone
	}
	if os.Getenv("BRIDGEBENCH_RP_ERRORS") != "" {
		rp.ErrorLog = log.New(os.Stderr, "reverseproxy: ", 0)
	}
	serve(listen(*addr), rp)
}

// Names and prices of the bridge's two providers on the mock upstream.
const (
	mockProvider      = "mock" // OpenAI-compatible: /v1/chat/completions
	anthropicProvider = "anth" // Anthropic: /v1/messages, the Messages pass-through
)

// benchPrices prices the mock models like gpt-4o-mini and Claude Haiku
// 4.5, so every record is costed (metrics, usage store, budgets).
func benchPrices() usage.Prices {
	d := usage.DefaultPrices()
	return d.Merge(usage.Prices{mockProvider + "/m": d["openai/gpt-4o-mini"], anthropicProvider + "/m": d["anthropic/claude-haiku-4-5"]})
}

// runBridge serves the bridge with an OpenAI-compatible provider ("mock")
// and an Anthropic one ("anth") on the mock upstream. Its flags switch
// the stages on: the request log (on unless -log=false), the usage store
// (-store), the metrics observer and live hub as the server wires them
// (-metrics, with -live-subs in-process subscribers reading the feed as
// an open dashboard would), and virtual keys with in-process limits
// (-keys: the store holding them; access is then the keys.Admitter's,
// not WithAccessKeys'). On SIGTERM it drains the usage writer and prints
// how many records it got and stored.
func runBridge(args []string) {
	fs := flag.NewFlagSet("bridge", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	target := fs.String("target", "", "upstream base URL")
	withLog := fs.Bool("log", true, "write the request log")
	logDir := fs.String("logdir", os.TempDir(), "directory for the request log")
	store := fs.String("store", "", "usage store: SQLite path or postgres:// URL (empty: none)")
	withMetrics := fs.Bool("metrics", false, "observe with the Prometheus metrics and the live hub")
	liveSubs := fs.Int("live-subs", 0, "with -metrics: live-feed subscribers reading every event in process")
	pprofAddr := fs.String("pprof", os.Getenv("BRIDGEBENCH_PPROF"), "serve net/http/pprof at this address, to profile the bridge under the bench's load (default $BRIDGEBENCH_PPROF; port 0 gives each bridge a port of its own, named on stderr)")
	withCache := fs.Bool("cache", false, "answer repeats from a memory response cache that takes every request, sampling or not")
	cacheMB := fs.Int("cache-mb", 256, "with -cache: the memory cache's bound in MiB")
	keyStore := fs.String("keys", "", "virtual keys with in-process limits, kept in this usage store (SQLite path or postgres:// URL; empty: access keys only)")
	fs.Parse(args)
	ctx := context.Background()
	prices := benchPrices()
	opts := []llmbridge.Option{
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: mockProvider, BaseURL: *target + "/v1", Models: []string{"m"}})),
		llmbridge.WithProvider(llmbridge.Anthropic(llmbridge.ProviderConfig{Name: anthropicProvider, BaseURL: *target + "/v1", APIKey: "mock-anthropic-key", Models: []string{"m"}})),
	}
	stores := map[string]*usage.Store{}
	openStore := func(dsn string) *usage.Store {
		if st, ok := stores[dsn]; ok {
			return st
		}
		st, err := usage.Open(ctx, dsn)
		if err != nil {
			log.Fatal(err)
		}
		stores[dsn] = st
		return st
	}
	var reqlog *requestlog.Writer
	if *withLog {
		w, err := requestlog.Open(requestlog.Options{Path: filepath.Join(*logDir, "requests.log")})
		if err != nil {
			log.Fatal(err)
		}
		reqlog = w
		opts = append(opts, llmbridge.WithUsageSink(w.Record))
		go reportDrops(w)
	}
	var uw *usage.Writer
	var records atomic.Int64
	if *store != "" {
		w, err := usage.NewWriter(openStore(*store), usage.WriterOptions{Prices: prices})
		if err != nil {
			log.Fatal(err)
		}
		uw = w
		opts = append(opts, llmbridge.WithUsageSink(func(r llmbridge.UsageRecord) { records.Add(1); w.Record(r) }))
	}
	var scrape http.Handler // the metrics, served at /metrics beside the bridge (the parent scrapes them)
	if *withMetrics {
		cost := prices.RecordCost
		mo := metrics.Options{Cost: cost}
		if reqlog != nil {
			mo.RequestLogDropped = reqlog.Dropped
		}
		if uw != nil {
			mo.UsageQueue = uw.Pending
		}
		hub := live.New(live.Options{Cost: cost})
		if *liveSubs > 0 {
			subscribeLive(hub, *liveSubs)
		}
		m := metrics.New(mo)
		scrape = m.Handler()
		opts = append(opts, llmbridge.WithObserver(m), llmbridge.WithObserver(hub))
	}
	var adm *keys.Admitter
	if *keyStore != "" {
		a, err := keys.NewAdmitter(ctx, keys.Options{Store: keys.NewStore(openStore(*keyStore)), AccessKeys: []string{benchKey}, Prices: prices})
		if err != nil {
			log.Fatal(err)
		}
		adm = a
		opts = append(opts, llmbridge.WithAdmitter(a))
	} else {
		opts = append(opts, llmbridge.WithAccessKeys(benchKey))
	}
	if *withCache {
		m, err := memory.New(int64(*cacheMB) << 20)
		if err != nil {
			log.Fatal(err)
		}
		opts = append(opts, llmbridge.WithCache(m, llmbridge.CachePolicy{Nondeterministic: true}))
	}
	if uw != nil {
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		go func() {
			<-term
			err := uw.Close(30 * time.Second)
			fmt.Fprintf(os.Stderr, "bridge: usage store: %d records, %d stored, %d dropped, %d waiting (err %v)\n",
				records.Load(), uw.Written(), uw.Dropped(), uw.Pending(), err)
			if adm != nil {
				_ = adm.Close()
			}
			os.Exit(0)
		}()
	}
	b, err := llmbridge.New(opts...)
	if err != nil {
		log.Fatal(err)
	}
	if a := *pprofAddr; a != "" {
		if r, err := strconv.Atoi(os.Getenv("BRIDGEBENCH_MEMPROFILERATE")); err == nil {
			runtime.MemProfileRate = r // e.g. 1: every allocation, for the held streams' heap profile
		}
		// Port 0: a port of its own, said on stderr, so that every bridge of
		// a run (-pair-stages' two at once) can be profiled.
		if ln, err := net.Listen("tcp", a); err != nil {
			log.Println(err) // a port another bridge of the run holds: this one runs without
		} else {
			fmt.Fprintf(os.Stderr, "bridge %s: pprof at http://%s/debug/pprof/\n", strings.Join(os.Args[2:], " "), ln.Addr())
			go func() { log.Println(http.Serve(ln, nil)) }() // http.DefaultServeMux has net/http/pprof
		}
	}
	var h http.Handler = b
	if scrape != nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/metrics" {
				scrape.ServeHTTP(w, r)
				return
			}
			b.ServeHTTP(w, r)
		})
	}
	serve(listen(*addr), h)
}

// benchKeyParams are the virtual key of bridge-limits and bridge-all:
// every limit set, none reachable, so the limiter does its full work on
// every request and refuses none.
func benchKeyParams() *keys.Params {
	name := "bridgebench"
	models := []string{mockProvider + "/*", anthropicProvider + "/*"}
	rpm, tpm, par := int64(1<<40), int64(1<<40), int64(1<<20)
	daily, monthly := 1e9, 1e9
	return &keys.Params{Name: &name, Models: &models, RPM: &rpm, TPM: &tpm, MaxParallel: &par, DailyBudgetUSD: &daily, MonthlyBudgetUSD: &monthly}
}

// createBenchKey creates the bench virtual key in the usage store at dsn
// and returns its secret (kept in memory only; the store has its hash).
func createBenchKey(dsn string) (string, error) {
	ctx := context.Background()
	st, err := usage.Open(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer st.Close()
	_, secret, err := keys.NewStore(st).Create(ctx, benchKeyParams(), time.Now())
	return secret, err
}

// subscribeLive serves hub's feed on a loopback listener of its own and
// opens n subscribers reading it over HTTP to the end, as open dashboards
// do (the bridge pays for encoding and writing every event), before it
// returns. A subscriber whose stream ends (dropped for falling behind)
// says so on stderr.
func subscribeLive(hub *live.Hub, n int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, hub) //nolint:errcheck // serves until the process ends
	for range n {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			_, _ = io.Copy(io.Discard, resp.Body)
			fmt.Fprintf(os.Stderr, "bridge: a live-feed subscriber's stream ended (%d dropped for falling behind)\n", hub.DroppedSubscribers())
		}()
	}
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

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// into dir, for the -tls mock upstream; the fronts trust it through
// SSL_CERT_FILE, as they would a provider's public certificate.
func selfSigned(dir string) (certFile, keyFile string, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bridgebench upstream"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return "", "", err
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "upstream.crt"), filepath.Join(dir, "upstream.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
}
