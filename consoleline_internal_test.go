package llmbridge

import (
	"bytes"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"
)

// consoleRecord is a streamed request's record as the console logs it.
func consoleRecord() *UsageRecord {
	return &UsageRecord{RequestID: "req_0123456789abcdef", Format: "chat", Status: 200, Model: "openai/gpt-4o-mini", Provider: "openai",
		Stream: true, Duration: 812 * time.Millisecond, TTFT: 95 * time.Millisecond, KeyID: "k_abcdef", TotalTokens: 73, PromptTokens: 53, CompletionTokens: 20}
}

// TestConsoleLineOfARecord: the line logRecord writes, member by member,
// at the level the record's outcome asks.
func TestConsoleLineOfARecord(t *testing.T) {
	var buf bytes.Buffer
	b := &Bridge{log: slog.New(slog.NewTextHandler(&buf, nil))}
	b.logRecord(consoleRecord())
	r := consoleRecord()
	r.Status, r.Error = 502, "upstream: bad gateway"
	b.logRecord(r)
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := []string{
		`level=INFO msg=request request_id=req_0123456789abcdef format=chat status=200 model=openai/gpt-4o-mini provider=openai stream=true duration=812ms key_id=k_abcdef ttft=95ms prompt_tokens=53 completion_tokens=20`,
		`level=WARN msg=request request_id=req_0123456789abcdef format=chat status=502 model=openai/gpt-4o-mini provider=openai stream=true duration=812ms key_id=k_abcdef ttft=95ms prompt_tokens=53 completion_tokens=20 error="upstream: bad gateway"`,
	}
	if len(lines) != len(want) {
		t.Fatalf("lines:\n%s", buf.String())
	}
	for i, l := range lines {
		if _, rest, _ := strings.Cut(l, " "); !strings.HasPrefix(l, "time=") || rest != want[i] {
			t.Errorf("line %d:\n got %s\nwant time=… %s", i, l, want[i])
		}
	}
}

// TestConsoleLineHasItsSource: a handler that prints the source gets
// logRecord's, as Logger.LogAttrs gave it.
func TestConsoleLineHasItsSource(t *testing.T) {
	var buf bytes.Buffer
	b := &Bridge{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{AddSource: true}))}
	b.logRecord(consoleRecord())
	b.logRecord(consoleRecord())
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if !strings.Contains(l, "/consoleline.go:") {
			t.Errorf("no source in %s", l)
		}
	}
	if f := runtime.FuncForPC(logRecordPC.Load()); f == nil || !strings.HasSuffix(f.Name(), ".logRecord") {
		t.Errorf("the lines' pc is not logRecord's: %v", f)
	}
}

// BenchmarkConsoleLineOfARecord: logRecord's line, to a discarding
// TextHandler (the server's piped console without its write).
func BenchmarkConsoleLineOfARecord(b *testing.B) {
	br := &Bridge{log: slog.New(slog.NewTextHandler(discard{}, nil))}
	r := consoleRecord()
	b.ReportAllocs()
	for b.Loop() {
		br.logRecord(r)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
