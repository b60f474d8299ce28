package otelenv

import (
	"cmp"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve starts tracing from s and sends chat requests (model, stream)
// with a client trace context through a Bridge traced by it, with
// upstreams a and b and a route "smart" (a/m, then b/m) where a answers
// 503; tracing is closed (spans flushed) when it returns.
func serve(t *testing.T, s Settings, calls ...string) {
	t.Helper()
	tr, err := Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	a, bu := testupstream.New(t, testupstream.OpenAI), testupstream.New(t, testupstream.OpenAI)
	a.SetDefault(testupstream.Reply{Status: 503})
	b, err := llmbridge.New(append(tr.Option(),
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "a", BaseURL: a.BaseURL(), APIKey: a.Key})),
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "b", BaseURL: bu.BaseURL(), APIKey: bu.Key})),
		llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 0}),
		llmbridge.WithRoute(llmbridge.Route{Name: "smart", Strategy: llmbridge.StrategyOrdered, Targets: []llmbridge.RouteTarget{{Model: "a/m"}}, Fallbacks: []string{"b/m"}}))...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	for _, call := range calls {
		model, stream, _ := strings.Cut(call, " ")
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"`+model+`","stream":`+stream+`,"messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	srv.Close()
	b.Close()
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
}

// Three variables and every request reaches an OTLP receiver: per
// request a server span continuing the client's trace, one client span
// per attempt under it, GenAI attributes, the service name — for a
// stream, a non-streamed answer, a failover and an upstream error.
func TestExportsToOTLPReceiver(t *testing.T) {
	for _, c := range []struct {
		call    string
		clients []string // the attempts' providers, in order
		failed  bool     // the request failed
	}{{"b/m true", []string{"b"}, false}, {"b/m false", []string{"b"}, false}, {"smart true", []string{"a", "b"}, false}, {"a/m false", []string{"a"}, true}} {
		t.Run(c.call, func(t *testing.T) {
			rcv := testupstream.NewOTLPReceiver(t)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
			t.Setenv("OTEL_SERVICE_NAME", "bridge-under-test")
			serve(t, Settings{Endpoint: rcv.URL}, c.call)
			check(t, rcv, c.clients, c.failed)
		})
	}
}

// check verifies one request's spans as the receiver decoded them.
func check(t *testing.T, rcv *testupstream.OTLPReceiver, providers []string, failed bool) {
	t.Helper()
	if got := rcv.Resource("service.name"); got != "bridge-under-test" {
		t.Errorf("service.name = %q", got)
	}
	spans := rcv.Spans()
	var server *tracepb.Span
	var clients []*tracepb.Span
	for _, s := range spans {
		switch s.Kind {
		case tracepb.Span_SPAN_KIND_SERVER:
			server = s
		case tracepb.Span_SPAN_KIND_CLIENT:
			clients = append(clients, s)
		}
	}
	if server == nil || len(clients) != len(providers) || len(spans) != len(providers)+1 {
		t.Fatalf("%d spans exported: %v", len(spans), spans)
	}
	if got := hex(server.TraceId); got != "4bf92f3577b34da6a3ce929d0e0e4736" || hex(server.ParentSpanId) != "00f067aa0ba902b7" {
		t.Errorf("server span trace %s parent %s: the client's trace was not continued", got, hex(server.ParentSpanId))
	}
	if (server.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR) != failed {
		t.Errorf("server span status %v, want failed=%v", server.Status, failed)
	}
	slices.SortFunc(clients, func(x, y *tracepb.Span) int { return cmp.Compare(x.StartTimeUnixNano, y.StartTimeUnixNano) })
	for i, c := range clients {
		attrs := map[string]string{}
		for _, a := range c.Attributes {
			attrs[a.Key] = a.Value.String()
		}
		if string(c.ParentSpanId) != string(server.SpanId) || string(c.TraceId) != string(server.TraceId) {
			t.Errorf("client span %d is not the server span's child", i)
		}
		if !strings.Contains(attrs["gen_ai.provider.name"], providers[i]) {
			t.Errorf("client span %d: provider %s, want %s", i, attrs["gen_ai.provider.name"], providers[i])
		}
		keys := []string{"gen_ai.operation.name", "gen_ai.request.model", "http.response.status_code"}
		if last := i == len(clients)-1; last && !failed {
			keys = append(keys, "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.response.finish_reasons")
		}
		for _, k := range keys {
			if attrs[k] == "" {
				t.Errorf("client span %d lacks %s: %v", i, k, attrs)
			}
		}
	}
}

func hex(b []byte) string {
	const d = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, d[c>>4], d[c&15])
	}
	return string(out)
}

// The SDK's own variables apply: a sampler that samples nothing exports
// nothing.
func TestSamplerFromEnvironment(t *testing.T) {
	rcv := testupstream.NewOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
	serve(t, Settings{Endpoint: rcv.URL}, "b/m true")
	if n := len(rcv.Spans()); n != 0 {
		t.Errorf("%d spans exported with OTEL_TRACES_SAMPLER=always_off", n)
	}
}

// The .env's OTEL_* variables reach the SDK; the real environment wins.
func TestEnvironCopied(t *testing.T) {
	rcv := testupstream.NewOTLPReceiver(t)
	t.Setenv("OTEL_SERVICE_NAME", "from-the-real-environment")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	os.Unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT") // t.Setenv restores it
	serve(t, Settings{Endpoint: rcv.URL, Environ: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.URL, "OTEL_SERVICE_NAME": "from-dotenv", "OPENAI_API_KEY": "sk-not-copied"}}, "b/m true")
	if os.Getenv("OPENAI_API_KEY") == "sk-not-copied" {
		t.Error("a variable other than OTEL_* was copied")
	}
	if len(rcv.Spans()) != 2 || rcv.Resource("service.name") != "from-the-real-environment" {
		t.Errorf("%d spans, service.name %q", len(rcv.Spans()), rcv.Resource("service.name"))
	}
}

// Off without an endpoint or when the SDK is disabled; a protocol the
// exporters do not speak is refused.
func TestSettings(t *testing.T) {
	for _, s := range []Settings{{}, {Endpoint: "http://x", Disabled: true}, {Protocol: "grpc"}} {
		if tr, err := Start(context.Background(), s); tr != nil || err != nil || s.On() {
			t.Errorf("%+v: tracing %v, error %v", s, tr, err)
		}
	}
	var none *Tracing
	if none.Option() != nil || none.Close() != nil {
		t.Error("a nil Tracing is not inert")
	}
	if err := (Settings{Endpoint: "http://x", Protocol: "http/json"}).Check(); err == nil {
		t.Error("http/json accepted")
	}
	if err := (Settings{TracesEndpoint: "http://x", TracesProtocol: "grpc", Protocol: "http/json"}).Check(); err != nil {
		t.Errorf("the traces protocol does not win: %v", err)
	}
	tr, err := Start(context.Background(), Settings{TracesEndpoint: "http://127.0.0.1:1", TracesProtocol: "grpc"})
	if err != nil || tr == nil {
		t.Fatalf("grpc: %v", err)
	}
	if err := tr.Close(); err != nil {
		t.Error(err)
	}
}

// grpcReceiver is an OTLP/gRPC trace receiver (the collector's service).
type grpcReceiver struct {
	coltrace.UnimplementedTraceServiceServer
	spans chan *tracepb.Span
}

func (g *grpcReceiver) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				g.spans <- s
			}
		}
	}
	return &coltrace.ExportTraceServiceResponse{}, nil
}

// OTEL_EXPORTER_OTLP_PROTOCOL=grpc exports over gRPC.
func TestExportsOverGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rcv := &grpcReceiver{spans: make(chan *tracepb.Span, 16)}
	srv := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(srv, rcv)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	endpoint := "http://" + ln.Addr().String() // http: without TLS
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	serve(t, Settings{Endpoint: endpoint, Protocol: "grpc"}, "b/m false")
	if n := len(rcv.spans); n != 2 {
		t.Errorf("%d spans over gRPC, want 2", n)
	}
}
