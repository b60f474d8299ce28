// Package tracing traces a Bridge's requests with OpenTelemetry: one
// server span per request (SpanKindServer through the handler,
// SpanKindInternal in-process) and, as its children, one client span per
// upstream attempt — two when a route fails over, one more per retry.
// Spans carry the GenAI semantic conventions (gen_ai.operation.name,
// gen_ai.provider.name, gen_ai.request.model, gen_ai.response.model,
// gen_ai.usage.input_tokens and output_tokens,
// gen_ai.response.finish_reasons, gen_ai.response.time_to_first_chunk).
// The client's W3C trace context (traceparent, tracestate) is continued,
// and each attempt's own context is propagated upstream.
//
// Prompts are never recorded unless Options.CaptureContent is set;
// provider and client keys never are: no header, URL query or upstream
// error message reaches a span.
//
//	b, err := llmbridge.New(..., tracing.Option(tracing.Options{TracerProvider: tp}))
package tracing

import (
	"context"
	"sync"

	"github.com/llmbridge/llmbridge"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans.
const ScopeName = "github.com/llmbridge/llmbridge/tracing"

// Options configures an Observer. The zero value uses OpenTelemetry's
// global tracer provider and W3C trace context and baggage.
type Options struct {
	// TracerProvider makes the spans; nil uses otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Propagator reads the client's trace context and writes each
	// attempt's upstream; nil uses W3C TraceContext (traceparent and
	// tracestate) only: a client's baggage is not sent to providers.
	Propagator propagation.TextMapPropagator
	// CaptureContent records the prompt's messages (gen_ai.input.messages,
	// at most MaxContentBytes) on the server span. Off by default:
	// prompts are personal data.
	CaptureContent bool
}

// MaxContentBytes bounds the captured prompt (Options.CaptureContent).
const MaxContentBytes = 64 << 10

// Observer is an llmbridge.Observer that traces every request; it also
// implements ContextObserver, AttemptObserver and FirstByteObserver. It is
// safe for concurrent use. Add it with llmbridge.WithObserver, or use
// Option.
type Observer struct {
	tracer  trace.Tracer
	prop    propagation.TextMapPropagator
	content bool
	live    sync.Map // UsageRecord.ID → *request, from Context to End
}

// request is the state of one traced request. Its hooks all run on the
// request's goroutine, one after another.
type request struct {
	span    trace.Span
	pending *attempt // the last 2xx attempt, ended at End or at the next attempt
}

// New returns an Observer for o.
func New(o Options) *Observer {
	tp := o.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	p := o.Propagator
	if p == nil {
		p = propagation.TraceContext{}
	}
	return &Observer{tracer: tp.Tracer(ScopeName), prop: p, content: o.CaptureContent}
}

// Option is llmbridge.WithObserver(New(o)).
func Option(o Options) llmbridge.Option { return llmbridge.WithObserver(New(o)) }

// Context starts the request's server span, as a child of the client's
// trace context when its headers carry one (or of the in-process
// caller's span), and returns ctx carrying it.
func (o *Observer) Context(ctx context.Context, r *llmbridge.Request, rec llmbridge.UsageRecord) context.Context {
	kind := trace.SpanKindInternal
	if r.Header != nil {
		ctx = o.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
		kind = trace.SpanKindServer
	}
	op := operation(rec.Format)
	attrs := append(make([]attribute.KeyValue, 0, 10), semconv.GenAIOperationNameKey.String(op), requestIDKey.String(rec.RequestID),
		formatKey.String(rec.Format), streamKey.Bool(rec.Stream))
	if rec.Model != "" {
		attrs = append(attrs, semconv.GenAIRequestModel(rec.Model))
	}
	if rec.Method != "" {
		attrs = append(attrs, semconv.HTTPRequestMethodKey.String(rec.Method), semconv.URLPath(rec.Path))
	}
	if o.content {
		if msgs := inputMessages(r); msgs != "" {
			attrs = append(attrs, semconv.GenAIInputMessagesKey.String(msgs))
		}
	}
	ctx, span := o.tracer.Start(ctx, spanName(op, rec.Model), trace.WithSpanKind(kind), trace.WithTimestamp(rec.Time), trace.WithAttributes(attrs...))
	o.live.Store(rec.ID, &request{span: span})
	return ctx
}

// FirstByte notes the time to the first chunk on the server span.
func (o *Observer) FirstByte(rec llmbridge.UsageRecord) {
	if r := o.lookup(rec.ID); r != nil {
		r.span.SetAttributes(ttftKey.Float64(rec.TTFT.Seconds()))
		r.span.AddEvent("gen_ai.first_chunk", trace.WithTimestamp(rec.Time.Add(rec.TTFT)))
	}
}

// End completes and ends the request's spans. A request refused before
// its caller was known had no Context: its span is made here, from the
// record's times, without a parent (its headers are not trusted).
func (o *Observer) End(rec llmbridge.UsageRecord) {
	v, ok := o.live.LoadAndDelete(rec.ID)
	if !ok {
		_, span := o.tracer.Start(context.Background(), spanName(operation(rec.Format), rec.Model), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithTimestamp(rec.Time), trace.WithAttributes(requestIDKey.String(rec.RequestID), formatKey.String(rec.Format)))
		if rec.Method != "" {
			span.SetAttributes(semconv.HTTPRequestMethodKey.String(rec.Method), semconv.URLPath(rec.Path))
		}
		endServer(span, rec, nil)
		return
	}
	r := v.(*request)
	var reasons []string
	if a := r.pending; a != nil {
		r.pending = nil
		reasons = a.reasons()
		a.finish(rec)
	}
	endServer(r.span, rec, reasons)
}

func (o *Observer) lookup(id string) *request {
	if v, ok := o.live.Load(id); ok {
		return v.(*request)
	}
	return nil
}

// endServer sets what the finished record says on a server span and ends
// it at the request's end. The error's code, not its message, is recorded:
// an upstream's message may quote what the client or the bridge sent.
func endServer(span trace.Span, rec llmbridge.UsageRecord, reasons []string) {
	attrs := append(make([]attribute.KeyValue, 0, 16), semconv.HTTPResponseStatusCode(rec.Status), retriesKey.Int(rec.Retries))
	attrs = append(attrs, usageAttrs(rec)...)
	if len(reasons) > 0 {
		attrs = append(attrs, semconv.GenAIResponseFinishReasons(reasons...))
	}
	for _, kv := range []struct {
		k attribute.Key
		v string
	}{{semconv.GenAIProviderNameKey, providerName(rec.Provider)}, {semconv.GenAIResponseModelKey, rec.UpstreamModel},
		{routeKey, rec.Route}, {keyIDKey, rec.KeyID}, {providerKeyKey, rec.ProviderKey}, {cacheKey, rec.Cache}} {
		if kv.v != "" {
			attrs = append(attrs, kv.k.String(kv.v))
		}
	}
	span.SetAttributes(attrs...)
	if rec.Error != "" || rec.Status >= 500 {
		code := rec.ErrorCode
		if code == "" {
			code = "error"
		}
		span.SetAttributes(semconv.ErrorTypeKey.String(code))
		span.SetStatus(codes.Error, code)
	}
	span.End(trace.WithTimestamp(rec.Time.Add(rec.Duration)))
}

// usageAttrs are the token counts of a record that has any.
func usageAttrs(rec llmbridge.UsageRecord) []attribute.KeyValue {
	if rec.TotalTokens == 0 && rec.PromptTokens == 0 && rec.CompletionTokens == 0 {
		return nil
	}
	a := []attribute.KeyValue{semconv.GenAIUsageInputTokens(rec.PromptTokens), semconv.GenAIUsageOutputTokens(rec.CompletionTokens)}
	if rec.Estimated {
		a = append(a, estimatedKey.Bool(true))
	}
	return a
}

// spanName is "{operation} {model}", as the GenAI conventions name spans.
func spanName(op, model string) string {
	if model == "" {
		return op
	}
	return op + " " + model
}

// operation is the GenAI operation of a client format.
func operation(format string) string {
	switch format {
	case "embeddings":
		return "embeddings"
	case "anthropic_count_tokens":
		return "count_tokens"
	}
	return "chat"
}

// providerName is gen_ai.provider.name for a provider of the bridge: the
// conventions' well-known value where the name is one, else the name.
func providerName(name string) string {
	switch name {
	case "gemini":
		return "gcp.gemini"
	case "vertex":
		return "gcp.vertex_ai"
	case "azure":
		return "azure.ai.openai"
	case "bedrock":
		return "aws.bedrock"
	}
	return name
}

// The bridge's own attributes.
const (
	requestIDKey   = attribute.Key("llmbridge.request_id")
	formatKey      = attribute.Key("llmbridge.format")
	streamKey      = attribute.Key("llmbridge.stream")
	retriesKey     = attribute.Key("llmbridge.retries")
	attemptKey     = attribute.Key("llmbridge.attempt")
	routeKey       = attribute.Key("llmbridge.route")
	keyIDKey       = attribute.Key("llmbridge.key_id")
	providerKeyKey = attribute.Key("llmbridge.provider_key")
	cacheKey       = attribute.Key("llmbridge.cache")
	estimatedKey   = attribute.Key("llmbridge.usage.estimated")
	// ttftKey is the GenAI conventions' time to the first chunk, in seconds.
	ttftKey = attribute.Key("gen_ai.response.time_to_first_chunk")
)
