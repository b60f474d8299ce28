package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
