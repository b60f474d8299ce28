package tracing

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/llmbridge/llmbridge"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// attempt is one upstream attempt's client span. An answer that began
// 2xx keeps it open until the request ends (its usage is known then) or
// the next attempt starts (the answer failed before reaching the client).
type attempt struct {
	span   trace.Span
	body   *scanBody
	closed time.Time // when the relay closed the answer's body
}

// Attempt starts the attempt's client span under the request's server
// span, writes its trace context into req's headers and returns what ends
// the span with the answer.
func (o *Observer) Attempt(req *http.Request, rec llmbridge.UsageRecord) func(*http.Response, error) {
	r := o.lookup(rec.ID)
	if r == nil {
		return nil
	}
	if p := r.pending; p != nil { // a 2xx answer failed before reaching the client: the route fails over
		r.pending = nil
		p.span.SetStatus(codes.Error, "failed over")
		p.span.SetAttributes(semconv.ErrorTypeKey.String("failed_over"))
		p.span.End(p.endTime())
	}
	op := operation(rec.Format)
	attrs := []attribute.KeyValue{semconv.GenAIOperationNameKey.String(op), semconv.GenAIProviderNameKey.String(providerName(rec.Provider)),
		semconv.GenAIRequestModel(rec.UpstreamModel), semconv.HTTPRequestMethodKey.String(req.Method), attemptKey.Int(rec.Retries)}
	attrs = append(attrs, serverAttrs(req.URL)...)
	if rec.ProviderKey != "" {
		attrs = append(attrs, providerKeyKey.String(rec.ProviderKey))
	}
	ctx, span := o.tracer.Start(req.Context(), spanName(op, rec.UpstreamModel), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	o.prop.Inject(ctx, propagation.HeaderCarrier(req.Header))
	return func(resp *http.Response, err error) {
		if err != nil {
			failed(span, errorType(err))
			span.End()
			return
		}
		span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			failed(span, strconv.Itoa(resp.StatusCode))
			span.End()
			return
		}
		a := &attempt{span: span}
		a.body = &scanBody{ReadCloser: resp.Body, closed: func() { a.closed = time.Now() }}
		resp.Body = a.body
		r.pending = a
	}
}

// finish ends the answering attempt's span with the record's outcome.
func (a *attempt) finish(rec llmbridge.UsageRecord) {
	attrs := usageAttrs(rec)
	if rs := a.reasons(); len(rs) > 0 {
		attrs = append(attrs, semconv.GenAIResponseFinishReasons(rs...))
	}
	if rec.UpstreamModel != "" {
		attrs = append(attrs, semconv.GenAIResponseModel(rec.UpstreamModel))
	}
	a.span.SetAttributes(attrs...)
	if rec.Error != "" && rec.Status != llmbridge.StatusClientClosedRequest {
		failed(a.span, rec.ErrorCode)
	}
	a.span.End(a.endTime())
}

func (a *attempt) reasons() []string { return a.body.reasons }

// endTime ends the span when the answer's body was closed, or now.
func (a *attempt) endTime() trace.SpanEndOption {
	if a.closed.IsZero() {
		return trace.WithTimestamp(time.Now())
	}
	return trace.WithTimestamp(a.closed)
}

// failed marks span as failed with error.type typ.
func failed(span trace.Span, typ string) {
	if typ == "" {
		typ = "error"
	}
	span.SetAttributes(semconv.ErrorTypeKey.String(typ))
	span.SetStatus(codes.Error, typ)
}

// serverAttrs are the upstream's address and port: never the URL, whose
// query may hold a key.
func serverAttrs(u *url.URL) []attribute.KeyValue {
	if u == nil {
		return nil
	}
	a := []attribute.KeyValue{semconv.ServerAddress(u.Hostname())}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if n, err := strconv.Atoi(port); err == nil {
		a = append(a, semconv.ServerPort(n))
	}
	return a
}

// errorType names a round trip's failure without its text: a *url.Error
// quotes the URL, whose query may hold a key.
func errorType(err error) string {
	var ne interface{ Timeout() bool }
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "connection_closed"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		var oe interface{ Temporary() bool }
		if errors.As(ue.Err, &oe) {
			return "connect_error"
		}
	}
	if err.Error() == "upstream sent no response headers in time" { // the bridge's header timeout
		return "timeout"
	}
	return "transport_error"
}
