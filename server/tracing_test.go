package main

import (
	"context"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/testupstream"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// unsetForTest unsets the process variables for the test (the
// OpenTelemetry SDK reads them there), restoring them after.
func unsetForTest(t *testing.T, keys ...string) {
	for _, k := range keys {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// The operator's view: with three OTEL_* variables in the environment
// every request reaches the collector as a server span continuing the
// client's trace with a client span under it; with LLMBRIDGE_PRICES_URL
// the synced prices take effect without a restart (the cache written by
// the sync reloads the server) and the admin API shows their source.
func TestServerTracesAndSyncsPrices(t *testing.T) {
	unsetForTest(t, "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_TRACES_SAMPLER")
	rcv := testupstream.NewOTLPReceiver(t)
	up := testupstream.New(t, testupstream.OpenAI)
	src := testupstream.NewPriceSource(t, testupstream.LiteLLMPrices, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	const admin = "admin-key-for-the-test-0123"
	env := []string{"LLMBRIDGE_ADDR=127.0.0.1:0", "LLMBRIDGE_LOG_FILE=" + filepath.Join(dir, "requests.log"), "LLMBRIDGE_DB=off",
		"LLMBRIDGE_DEMO=false", "LLMBRIDGE_DISCOVER_LOCAL=false", "OPENAI_API_KEY=" + up.Key, "OPENAI_BASE_URL=" + up.BaseURL(),
		"LLMBRIDGE_ADMIN_KEY=" + admin, "LLMBRIDGE_PRICES_URL=" + src.URL, "LLMBRIDGE_PRICES_CACHE=" + filepath.Join(dir, "prices.json"),
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + rcv.URL, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "OTEL_SERVICE_NAME=bridge-in-prod"}
	console := &lockedBuffer{}
	addrc := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, runOptions{envFile: filepath.Join(dir, ".env"), environ: env, stderr: console, ready: func(a string) { addrc <- a }, poll: 20 * time.Millisecond})
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v\n%s", err, console)
	}
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("chat: %v %v", resp, err)
	}
	resp.Body.Close()

	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, body := getWith(t, base+"/admin/api/prices", admin)
		if strings.Contains(body, `"model":"openai/gpt-4o","input":2.5,"cached_input":1.25,"output":10,"source":"`+src.URL+`"`) &&
			strings.Contains(console.String(), "prices.json changed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the synced prices never took effect: %.300s\n%s", body, console)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	spans := rcv.Spans()
	kinds := map[tracepb.Span_SpanKind]int{}
	for _, s := range spans {
		kinds[s.Kind]++
		if hex.EncodeToString(s.TraceId) != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("span %q is not in the client's trace", s.Name)
		}
	}
	if kinds[tracepb.Span_SPAN_KIND_SERVER] != 1 || kinds[tracepb.Span_SPAN_KIND_CLIENT] != 1 || rcv.Resource("service.name") != "bridge-in-prod" {
		t.Errorf("spans %v, service.name %q\n%s", kinds, rcv.Resource("service.name"), console)
	}
}
