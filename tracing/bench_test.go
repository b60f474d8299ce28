package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/llmbridge/llmbridge/tracing"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// discard is an exporter that drops what it is given, so the benchmark
// measures the request path's cost of tracing (spans made, attributes
// set, context propagated, batch queue), not an exporter's I/O.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkTracing serves a streamed chat request through the handler to
// a fake upstream, without tracing and with every request sampled, in the
// same run: the difference is what tracing costs a request.
func BenchmarkTracing(b *testing.B) {
	up := testupstream.New(b, testupstream.OpenAI)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
	defer tp.Shutdown(context.Background())
	for _, bc := range []struct {
		name string
		opts []llmbridge.Option
	}{{"off", nil}, {"on", []llmbridge.Option{tracing.Option(tracing.Options{TracerProvider: tp})}}} {
		b.Run(bc.name, func(b *testing.B) {
			br, err := llmbridge.New(append(bc.opts, llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "a", BaseURL: up.BaseURL(), APIKey: up.Key})))...)
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			h := br.Handler()
			const body = `{"model":"a/m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("traceparent", traceparent)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}

// BenchmarkObserverHooks is the tracing work of one request with one
// attempt, without the request around it: the server span from a client
// traceparent, the client span with its context written upstream, the
// first byte, a streamed answer's body scanned, both spans ended and
// handed to the batch processor.
func BenchmarkObserverHooks(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
	defer tp.Shutdown(context.Background())
	o := tracing.New(tracing.Options{TracerProvider: tp})
	h := http.Header{"Traceparent": {traceparent}}
	body := strings.Repeat(`data: {"choices":[{"index":0,"delta":{"content":"Hello"}}]}`+"\n\n", 20) + `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n"
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		rec := llmbridge.UsageRecord{ID: "0123456789ab0123456789abcdef", Time: now, RequestID: "req-1", Format: "chat", Model: "a/m", Stream: true, Method: "POST", Path: "/v1/chat/completions"}
		ctx := o.Context(context.Background(), &llmbridge.Request{Header: h, Format: "chat", Model: "a/m"}, rec)
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://127.0.0.1:8080/v1/chat/completions", nil)
		rec.Provider, rec.UpstreamModel = "a", "m"
		done := o.Attempt(req, rec)
		resp := &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(body))}
		done(resp, nil)
		rec.TTFT = time.Millisecond
		o.FirstByte(rec)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		rec.Duration, rec.Status, rec.PromptTokens, rec.CompletionTokens, rec.TotalTokens = 2*time.Millisecond, 200, 9, 2, 11
		o.End(rec)
	}
}
