// Command opentelemetry shows OpenTelemetry tracing of the bridge's
// requests through its Observer hook: one span per request, from its
// arrival to its end, with a "first_token" event and the GenAI semantic
// convention attributes. OpenTelemetry is this example's dependency, not
// the library's.
//
// It runs on its own: a tiny fake upstream answers, and the spans are
// printed to stdout. In a real program, use an OTLP exporter
// (go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp)
// instead of printExporter, and wrap the handler with otelhttp if the
// spans should join the caller's trace.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/llmbridge/llmbridge"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// tracing is an llmbridge.Observer that turns each finished request into
// a span. It needs End only: the record carries the arrival time, the
// time to first token and the duration, so the span is created with
// explicit timestamps and nothing is kept between Start and End.
type tracing struct{ tracer trace.Tracer }

func (t tracing) End(r llmbridge.UsageRecord) {
	_, span := t.tracer.Start(context.Background(), "chat "+r.Model,
		trace.WithTimestamp(r.Time), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "chat"),
			attribute.String("gen_ai.system", r.Provider),
			attribute.String("gen_ai.request.model", r.Model),
			attribute.String("gen_ai.response.model", r.UpstreamModel),
			attribute.Int("gen_ai.usage.input_tokens", r.PromptTokens),
			attribute.Int("gen_ai.usage.output_tokens", r.CompletionTokens),
			attribute.String("llmbridge.request_id", r.RequestID),
			attribute.String("llmbridge.format", r.Format),
			attribute.Bool("llmbridge.stream", r.Stream),
			attribute.Int("llmbridge.retries", r.Retries),
			attribute.Int("http.response.status_code", r.Status),
		))
	if r.TTFT > 0 {
		span.AddEvent("first_token", trace.WithTimestamp(r.Time.Add(r.TTFT)))
	}
	if r.Error != "" {
		span.SetStatus(codes.Error, r.ErrorCode)
	}
	span.End(trace.WithTimestamp(r.Time.Add(r.Duration)))
}

// printExporter prints finished spans; a stand-in for an OTLP exporter.
type printExporter struct{}

func (printExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	for _, s := range spans {
		fmt.Printf("span %q trace=%s took %s\n", s.Name(), s.SpanContext().TraceID(), s.EndTime().Sub(s.StartTime()))
		for _, a := range s.Attributes() {
			fmt.Printf("  %s = %s\n", a.Key, a.Value.String())
		}
		for _, e := range s.Events() {
			fmt.Printf("  event %s at +%s\n", e.Name, e.Time.Sub(s.StartTime()))
		}
	}
	return nil
}

func (printExporter) Shutdown(context.Context) error { return nil }

func main() {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(printExporter{}))
	defer tp.Shutdown(context.Background())

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"c1","object":"chat.completion","created":1,"model":"m1","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`)
	}))
	defer up.Close()

	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "local", BaseURL: up.URL, APIKey: "unused"})),
		llmbridge.WithObserver(tracing{tracer: tp.Tracer("github.com/llmbridge/llmbridge")}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	resp, err := b.ChatCompletion(context.Background(), &llmbridge.ChatRequest{Model: "local/m1",
		Messages: []llmbridge.Message{{Role: "user", Content: llmbridge.TextContent("hi")}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("answer:", resp.Choices[0].Message.Content.String())
}
