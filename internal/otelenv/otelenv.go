// Package otelenv starts the server's OpenTelemetry tracing from the
// standard OTEL_* variables: off unless OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and OTEL_SDK_DISABLED is not
// true); OTLP over HTTP/protobuf, or gRPC when OTEL_EXPORTER_OTLP_PROTOCOL
// (or its TRACES_ variant) says "grpc". Everything else — endpoints,
// headers, timeouts, compression, certificates, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_BSP_* — is read by
// the OpenTelemetry SDK and exporters themselves, from the process
// environment; Start copies the OTEL_* variables of the server's .env
// there first, so a .env configures tracing as it does the rest.
package otelenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/tracing"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// Settings are the variables that decide whether and how tracing starts;
// the server's configuration loader parses them (caarlos0/env tags), so a
// malformed one is reported with every other problem.
type Settings struct {
	// Endpoint and TracesEndpoint turn tracing on; the exporter reads
	// them itself.
	Endpoint       string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	TracesEndpoint string `env:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"`
	// Protocol and TracesProtocol (which wins) choose the exporter:
	// "http/protobuf" (default) or "grpc".
	Protocol       string `env:"OTEL_EXPORTER_OTLP_PROTOCOL"`
	TracesProtocol string `env:"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"`
	// Disabled (OTEL_SDK_DISABLED=true) keeps tracing off.
	Disabled bool `env:"OTEL_SDK_DISABLED"`
	// CaptureContent records prompts on the spans (tracing.Options).
	CaptureContent bool `env:"LLMBRIDGE_OTEL_CAPTURE_CONTENT"`
	// Environ is the server's whole environment (.env overlaid with the
	// real one); its OTEL_* variables reach the SDK.
	Environ map[string]string `env:"-"`
}

// On reports whether tracing is configured.
func (s Settings) On() bool {
	return !s.Disabled && (s.Endpoint != "" || s.TracesEndpoint != "")
}

// protocol is the OTLP protocol the variables name, "http/protobuf" by
// default as the specification says.
func (s Settings) protocol() string {
	p := s.TracesProtocol
	if p == "" {
		p = s.Protocol
	}
	if p == "" {
		p = "http/protobuf"
	}
	return p
}

// Check reports a protocol the exporters do not speak.
func (s Settings) Check() error {
	if p := s.protocol(); s.On() && p != "http/protobuf" && p != "grpc" {
		return fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL: %q is not supported; use http/protobuf or grpc", p)
	}
	return nil
}

// Tracing is started tracing: the Bridge option that traces requests and
// what flushes and stops the exporter.
type Tracing struct {
	tp      *sdktrace.TracerProvider
	capture bool
}

// Start starts tracing as s says, or returns nil when it is off.
func Start(ctx context.Context, s Settings) (*Tracing, error) {
	if !s.On() {
		return nil, nil
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	for k, v := range s.Environ {
		if strings.HasPrefix(k, "OTEL_") {
			if _, set := os.LookupEnv(k); !set {
				_ = os.Setenv(k, v) // the SDK reads the process environment; the real one wins, as for the server's variables
			}
		}
	}
	var exp *otlptrace.Exporter
	var err error
	if s.protocol() == "grpc" {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry exporter: %w", err)
	}
	// Later sources win: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	// over the default name.
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName("llmbridge")), resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil && res == nil {
		return nil, errors.Join(fmt.Errorf("OpenTelemetry resource: %w", err), exp.Shutdown(ctx))
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{tp: tp, capture: s.CaptureContent}, nil
}

// Option is the Bridge option that traces every request; nil-safe (a
// nil Tracing's option adds nothing).
func (t *Tracing) Option() []llmbridge.Option {
	if t == nil {
		return nil
	}
	return []llmbridge.Option{tracing.Option(tracing.Options{TracerProvider: t.tp, CaptureContent: t.capture})}
}

// Close exports the spans still queued, for at most 5 s, and stops.
func (t *Tracing) Close() error {
	if t == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return t.tp.Shutdown(ctx)
}
