package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/llmbridge/llmbridge/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	accessKey = "client-secret-key-1234"
	prompt    = "my secret prompt about the weather"
	// parent is the client's trace context.
	parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpan  = "00f067aa0ba902b7"
	traceparent = "00-" + parentTrace + "-" + parentSpan + "-01"
)

// rig is a Bridge with two fake upstreams (a, b), a route "smart" (a/m,
// then b/m) and a tracer that records every span.
type rig struct {
	b    *llmbridge.Bridge
	srv  *httptest.Server
	a, u *testupstream.Server
	exp  *tracetest.InMemoryExporter
}

func newRig(t *testing.T, o tracing.Options, extra ...llmbridge.Option) *rig {
	t.Helper()
	r := &rig{a: testupstream.New(t, testupstream.OpenAI), u: testupstream.New(t, testupstream.OpenAI), exp: tracetest.NewInMemoryExporter()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(r.exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	o.TracerProvider = tp
	opts := append([]llmbridge.Option{
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "a", BaseURL: r.a.BaseURL(), APIKey: r.a.Key, Models: []string{"m"}})),
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "b", BaseURL: r.u.BaseURL(), APIKey: r.u.Key, Models: []string{"m"}})),
		llmbridge.WithRoute(llmbridge.Route{Name: "smart", Strategy: llmbridge.StrategyOrdered, Targets: []llmbridge.RouteTarget{{Model: "a/m"}}, Fallbacks: []string{"b/m"}}),
		llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 0}),
		llmbridge.WithAccessKeys(accessKey),
		tracing.Option(o),
	}, extra...)
	b, err := llmbridge.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	r.b = b
	r.srv = httptest.NewServer(b.Handler())
	t.Cleanup(r.srv.Close)
	return r
}

// post sends a chat request with the client's trace context and returns
// the status and body.
func (r *rig) post(t *testing.T, model string, stream bool) (int, string) {
	t.Helper()
	body := `{"model":"` + model + `","stream":` + map[bool]string{true: "true", false: "false"}[stream] + `,"messages":[{"role":"user","content":"` + prompt + `"}]}`
	req, _ := http.NewRequest("POST", r.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+accessKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", traceparent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// spans returns the server span and the client spans, in start order.
func (r *rig) spans(t *testing.T) (tracetest.SpanStub, []tracetest.SpanStub) {
	t.Helper()
	var server []tracetest.SpanStub
	var clients []tracetest.SpanStub
	for _, s := range r.exp.GetSpans() {
		switch s.SpanKind {
		case trace.SpanKindClient:
			clients = append(clients, s)
		default:
			server = append(server, s)
		}
	}
	if len(server) != 1 {
		t.Fatalf("%d server spans, want 1: %+v", len(server), server)
	}
	slices.SortFunc(clients, func(x, y tracetest.SpanStub) int { return x.StartTime.Compare(y.StartTime) })
	for _, c := range clients {
		if c.Parent.SpanID() != server[0].SpanContext.SpanID() || c.SpanContext.TraceID() != server[0].SpanContext.TraceID() {
			t.Errorf("client span %q is not the server span's child", c.Name)
		}
	}
	return server[0], clients
}

func attr(s tracetest.SpanStub, k string) attribute.Value {
	for _, a := range s.Attributes {
		if string(a.Key) == k {
			return a.Value
		}
	}
	return attribute.Value{}
}

func wantAttrs(t *testing.T, s tracetest.SpanStub, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := attr(s, k).String(); got != v {
			t.Errorf("span %q: %s = %q, want %q", s.Name, k, got, v)
		}
	}
}

// noSecrets fails if a span holds a key or, unless allowed, the prompt.
func noSecrets(t *testing.T, r *rig, promptAllowed bool) {
	t.Helper()
	for _, s := range r.exp.GetSpans() {
		all := s.Name
		for _, a := range s.Attributes {
			all += " " + a.Value.String()
		}
		for _, e := range s.Events {
			for _, a := range e.Attributes {
				all += " " + a.Value.String()
			}
		}
		for _, secret := range []string{accessKey, r.a.Key, r.u.Key} {
			if strings.Contains(all, secret) {
				t.Errorf("span %q holds a key", s.Name)
			}
		}
		if !promptAllowed && strings.Contains(all, prompt) {
			t.Errorf("span %q holds the prompt without CaptureContent", s.Name)
		}
	}
}

// A non-streamed request: the server span continues the client's trace,
// the attempt's client span is its child and its context goes upstream.
func TestNonStreamSpans(t *testing.T) {
	r := newRig(t, tracing.Options{})
	if st, body := r.post(t, "a/m", false); st != 200 {
		t.Fatalf("status %d: %s", st, body)
	}
	srv, clients := r.spans(t)
	if srv.SpanContext.TraceID().String() != parentTrace || srv.Parent.SpanID().String() != parentSpan || srv.SpanKind != trace.SpanKindServer {
		t.Errorf("server span does not continue the client's trace: %v parent %v kind %v", srv.SpanContext, srv.Parent, srv.SpanKind)
	}
	if srv.Name != "chat a/m" || len(clients) != 1 || clients[0].Name != "chat m" {
		t.Fatalf("spans %q and %d clients", srv.Name, len(clients))
	}
	wantAttrs(t, srv, map[string]string{"gen_ai.operation.name": "chat", "gen_ai.request.model": "a/m", "gen_ai.response.model": "m",
		"gen_ai.provider.name": "a", "gen_ai.usage.input_tokens": "9", "gen_ai.usage.output_tokens": "2",
		"gen_ai.response.finish_reasons": `["stop"]`, "http.response.status_code": "200", "llmbridge.stream": "false"})
	wantAttrs(t, clients[0], map[string]string{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "a", "gen_ai.request.model": "m",
		"gen_ai.response.model": "m", "gen_ai.usage.input_tokens": "9", "gen_ai.usage.output_tokens": "2",
		"gen_ai.response.finish_reasons": `["stop"]`, "http.response.status_code": "200", "server.address": "127.0.0.1", "llmbridge.attempt": "0"})
	if attr(srv, "gen_ai.response.time_to_first_chunk").AsFloat64() <= 0 {
		t.Error("no time to first chunk")
	}
	up := r.a.Requests()[0].Header.Get("traceparent")
	if want := "00-" + parentTrace + "-" + clients[0].SpanContext.SpanID().String() + "-01"; up != want {
		t.Errorf("upstream traceparent %q, want %q", up, want)
	}
	noSecrets(t, r, false)
}

// A stream: the same spans, the time to the first chunk and the finish
// reason read from the relayed events.
func TestStreamSpans(t *testing.T) {
	r := newRig(t, tracing.Options{})
	if st, body := r.post(t, "a/m", true); st != 200 || !strings.Contains(body, "[DONE]") {
		t.Fatalf("status %d: %s", st, body)
	}
	srv, clients := r.spans(t)
	if len(clients) != 1 {
		t.Fatalf("%d client spans", len(clients))
	}
	wantAttrs(t, srv, map[string]string{"llmbridge.stream": "true", "gen_ai.usage.output_tokens": "2", "gen_ai.response.finish_reasons": `["stop"]`})
	wantAttrs(t, clients[0], map[string]string{"gen_ai.response.finish_reasons": `["stop"]`, "gen_ai.usage.input_tokens": "9"})
	if attr(srv, "gen_ai.response.time_to_first_chunk").AsFloat64() <= 0 || len(srv.Events) == 0 {
		t.Error("no time to first chunk")
	}
	if clients[0].EndTime.After(srv.EndTime) {
		t.Error("the attempt outlived the request")
	}
	noSecrets(t, r, false)
}

// A route that fails over: one client span per attempt, the first failed
// (a 500, or a 2xx stream cut before its first event), the second answering.
func TestFailoverSpans(t *testing.T) {
	for name, rep := range map[string]testupstream.Reply{"500": {Status: 500}, "cut before first byte": {FailFirst: "cut"}} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, tracing.Options{})
			r.a.Enqueue(rep)
			if st, body := r.post(t, "smart", true); st != 200 {
				t.Fatalf("status %d: %s", st, body)
			}
			srv, clients := r.spans(t)
			if len(clients) != 2 {
				t.Fatalf("%d client spans, want 2", len(clients))
			}
			if clients[0].Status.Code != codes.Error || attr(clients[0], "gen_ai.provider.name").AsString() != "a" {
				t.Errorf("first attempt: %+v %v", clients[0].Status, clients[0].Attributes)
			}
			if clients[1].Status.Code == codes.Error || attr(clients[1], "gen_ai.provider.name").AsString() != "b" || attr(clients[1], "llmbridge.attempt").AsInt64() != 1 {
				t.Errorf("second attempt: %+v %v", clients[1].Status, clients[1].Attributes)
			}
			wantAttrs(t, srv, map[string]string{"gen_ai.provider.name": "b", "llmbridge.route": "smart", "llmbridge.retries": "1"})
			if srv.Status.Code == codes.Error {
				t.Error("the request succeeded but its span failed")
			}
			for i, c := range clients {
				if up := r.reqs(i)[0].Header.Get("traceparent"); !strings.Contains(up, c.SpanContext.SpanID().String()) {
					t.Errorf("attempt %d sent traceparent %q", i, up)
				}
			}
		})
	}
}

func (r *rig) reqs(i int) []testupstream.Request {
	return []*testupstream.Server{r.a, r.u}[i].Requests()
}

// Errors: an upstream's 400 fails both spans with its code, never its
// message; an unreachable upstream fails the attempt without its URL.
func TestErrorSpans(t *testing.T) {
	r := newRig(t, tracing.Options{}, llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "dead", BaseURL: "http://127.0.0.1:1/v1?key=sk-in-url", APIKey: "sk-dead-key"})))
	r.a.Enqueue(testupstream.Reply{Status: 400, ErrorBody: `{"error":{"message":"bad key sk-upstream-test echoed","type":"invalid_request_error","code":"bad_thing"}}`})
	if st, _ := r.post(t, "a/m", false); st != 400 {
		t.Fatalf("status %d", st)
	}
	srv, clients := r.spans(t)
	if srv.Status.Code != codes.Error || attr(srv, "error.type").AsString() != "bad_thing" || attr(clients[0], "error.type").AsString() != "400" {
		t.Errorf("400: server %+v %v, client %v", srv.Status, attr(srv, "error.type"), attr(clients[0], "error.type"))
	}
	noSecrets(t, r, false)

	r.exp.Reset()
	if st, _ := r.post(t, "dead/m", false); st != 502 {
		t.Fatalf("dead upstream: status %d", st)
	}
	srv, clients = r.spans(t)
	if len(clients) != 1 || clients[0].Status.Code != codes.Error || srv.Status.Code != codes.Error {
		t.Fatalf("dead upstream: %d clients, %+v", len(clients), srv.Status)
	}
	for _, s := range r.exp.GetSpans() {
		for _, a := range s.Attributes {
			if strings.Contains(a.Value.String(), "sk-") || strings.Contains(a.Value.String(), "key=") {
				t.Errorf("span %q: %s = %q", s.Name, a.Key, a.Value.String())
			}
		}
	}
}

// The prompt reaches a span only with CaptureContent.
func TestCaptureContent(t *testing.T) {
	r := newRig(t, tracing.Options{CaptureContent: true})
	r.post(t, "a/m", false)
	srv, _ := r.spans(t)
	if got := attr(srv, "gen_ai.input.messages").AsString(); got != `[{"role":"user","parts":[{"type":"text","content":"`+prompt+`"}]}]` {
		t.Errorf("gen_ai.input.messages = %s", got)
	}
	noSecrets(t, r, true)
}

// A request refused for its key gets a span of its own, without the
// client's trace (its headers are not trusted), and the key is not in it.
func TestRefusedSpan(t *testing.T) {
	r := newRig(t, tracing.Options{})
	req, _ := http.NewRequest("POST", r.srv.URL+"/v1/chat/completions", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer wrong-"+accessKey)
	req.Header.Set("traceparent", traceparent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv, clients := r.spans(t)
	if len(clients) != 0 || srv.Status.Code != codes.Error || attr(srv, "http.response.status_code").AsInt64() != 401 || srv.Parent.IsValid() {
		t.Errorf("refused: %+v %v parent %v", srv.Status, srv.Attributes, srv.Parent)
	}
	noSecrets(t, r, false)
}

// In-process calls: an internal span under the caller's own span.
func TestInProcessSpans(t *testing.T) {
	r := newRig(t, tracing.Options{})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(r.exp))
	defer tp.Shutdown(context.Background())
	ctx, caller := tp.Tracer("caller").Start(context.Background(), "caller")
	resp, err := r.b.ChatCompletion(ctx, &llmbridge.ChatRequest{Model: "a/m", Messages: []llmbridge.Message{{Role: "user", Content: llmbridge.TextContent(prompt)}}})
	if err != nil || resp == nil {
		t.Fatal(err)
	}
	var n int
	for _, s := range r.exp.GetSpans() {
		if s.SpanKind == trace.SpanKindInternal {
			n++
			if s.Parent.SpanID() != caller.SpanContext().SpanID() {
				t.Error("in-process span is not the caller's child")
			}
		}
	}
	caller.End()
	if n != 1 {
		t.Errorf("%d internal spans", n)
	}
	noSecrets(t, r, false)
}

// A malformed or huge traceparent starts a new trace; a client's
// tracestate and baggage do not reach a span's attributes.
func TestBadTraceparent(t *testing.T) {
	r := newRig(t, tracing.Options{})
	for _, tp := range []string{"00-zz-yy-01", strings.Repeat("0", 100_000), "ff-" + parentTrace + "-" + parentSpan + "-01", "00-00000000000000000000000000000000-" + parentSpan + "-01"} {
		r.exp.Reset()
		req, _ := http.NewRequest("POST", r.srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"a/m","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+accessKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", tp)
		req.Header.Set("baggage", "secret="+accessKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv, _ := r.spans(t)
		if resp.StatusCode != 200 || srv.Parent.IsValid() || srv.SpanContext.TraceID().String() == parentTrace {
			t.Errorf("traceparent %.40q: status %d, parent %v", tp, resp.StatusCode, srv.Parent)
		}
		noSecrets(t, r, false)
		reqs := r.a.Requests()
		if up := reqs[len(reqs)-1].Header; up.Get("baggage") != "" || up.Get("traceparent") == "" {
			t.Errorf("upstream headers: baggage %q, traceparent %q", up.Get("baggage"), up.Get("traceparent"))
		}
	}
}
