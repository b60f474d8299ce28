// Command opentelemetry traces the bridge's requests with the tracing
// package: one server span per request and one client span per upstream
// attempt, with the GenAI semantic-convention attributes and the W3C
// trace context continued from the caller and sent upstream.
//
// It runs on its own: a tiny fake upstream answers and the spans are
// printed. With OTEL_EXPORTER_OTLP_ENDPOINT set they go to that OTLP
// collector (Jaeger, Tempo, …) instead. The server does the same by itself
// when that variable is set.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/tracing"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func main() {
	ctx := context.Background()
	printed := tracetest.NewInMemoryExporter()
	var exp sdktrace.SpanExporter = printed
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" {
		e, err := otlptracehttp.New(ctx) // configured by the OTEL_* variables
		if err != nil {
			log.Fatal(err)
		}
		exp = e
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(ctx)

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"c1","object":"chat.completion","created":1,"model":"m1","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`)
	}))
	defer up.Close()

	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "local", BaseURL: up.URL, APIKey: "unused"})),
		tracing.Option(tracing.Options{TracerProvider: tp}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	resp, err := b.ChatCompletion(ctx, &llmbridge.ChatRequest{Model: "local/m1",
		Messages: []llmbridge.Message{{Role: "user", Content: llmbridge.TextContent("hi")}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("answer:", resp.Choices[0].Message.Content.String())
	for _, s := range printed.GetSpans() {
		fmt.Printf("span %q (%s)\n", s.Name, s.SpanKind)
		for _, a := range s.Attributes {
			fmt.Printf("  %s = %s\n", a.Key, a.Value.String())
		}
	}
}
