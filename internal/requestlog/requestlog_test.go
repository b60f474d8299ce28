package requestlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/llmbridge/llmbridge"
	"go.uber.org/goleak"
)

// lumberjack v2.2.1 starts a mill goroutine on first rotation that Close
// does not stop (natefinch/lumberjack#56): one per Logger, not per request.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun"))
}

func record(i int) llmbridge.UsageRecord {
	return llmbridge.UsageRecord{Time: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), RequestID: "req_" + strings.Repeat("x", i%3),
		KeyID: "key-abcd1234", Method: "POST", Path: "/v1/chat/completions", Provider: "openai", Model: "openai/gpt-4o",
		UpstreamModel: "gpt-4o", Stream: true, Status: 200, PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15,
		Duration: 1500 * time.Microsecond, TTFT: 250 * time.Microsecond, Error: "<none>"}
}

func TestLinesHaveEveryField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "requests.log")
	w, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() { w.Record(record(i)) })
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Record(record(0)) // after Close: dropped, no panic
	f, _ := os.Open(path)
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		for _, k := range []string{"time", "request_id", "key_id", "method", "path", "provider", "model", "upstream_model", "stream", "status", "duration_ms", "ttft_ms", "prompt_tokens", "completion_tokens", "total_tokens", "estimated", "error"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("line lacks %q: %s", k, sc.Bytes())
			}
		}
		if m["duration_ms"] != 1.5 || m["ttft_ms"] != 0.25 || m["time"] != "2026-11-26T10:00:00Z" || m["error"] != "<none>" {
			t.Fatalf("values: %s", sc.Bytes())
		}
		n++
	}
	if n != 100 || w.Written() != 100 || w.Dropped() != 1 {
		t.Fatalf("%d lines, written %d, dropped %d", n, w.Written(), w.Dropped())
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}

func TestFullQueueDropsInsteadOfBlocking(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.log")
	w, err := Open(Options{Path: path, QueueSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10000 {
		w.Record(record(i)) // must return at once even while the writer is busy
	}
	w.Close()
	if w.Written()+w.Dropped() != 10000 || w.Dropped() == 0 {
		t.Fatalf("written %d dropped %d", w.Written(), w.Dropped())
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(Options{Path: filepath.Join(dir, "r.log"), MaxSizeMB: 1, Backups: 2})
	if err != nil {
		t.Fatal(err)
	}
	big := record(0)
	big.Error = strings.Repeat("e", 10<<10)
	for range 400 { // ~4 MB
		w.Record(big)
		time.Sleep(50 * time.Microsecond)
	}
	w.Close()
	// lumberjack removes old backups in the background after a rotation.
	var files []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		files, _ = filepath.Glob(filepath.Join(dir, "r-*.log"))
		if len(files) > 0 && len(files) <= 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(files) == 0 || len(files) > 2 {
		t.Fatalf("rotated files: %v (dropped %d)", files, w.Dropped())
	}
}

func BenchmarkRecord(b *testing.B) {
	w, err := Open(Options{Path: filepath.Join(b.TempDir(), "r.log")})
	if err != nil {
		b.Fatal(err)
	}
	r := record(1)
	b.ReportAllocs()
	for b.Loop() {
		w.Record(r)
	}
	b.StopTimer()
	w.Close()
	b.ReportMetric(float64(w.Dropped()), "dropped")
}

// BenchmarkThroughput measures the writer: ns per line reaching the file
// (the producer waits for room instead of dropping).
func BenchmarkThroughput(b *testing.B) {
	w, err := Open(Options{Path: filepath.Join(b.TempDir(), "r.log")})
	if err != nil {
		b.Fatal(err)
	}
	r := record(1)
	b.ReportAllocs()
	for b.Loop() {
		for !w.offer(r) {
			runtime.Gosched()
		}
	}
	w.Close()
	if w.Dropped() > 0 {
		b.Fatalf("dropped %d", w.Dropped())
	}
}

func TestFlushesWithoutClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.log")
	w, err := Open(Options{Path: path, FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Record(record(1))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, _ := os.ReadFile(path); len(b) > 0 {
			return // reached the file while the writer is still open
		}
		if time.Now().After(deadline) {
			t.Fatal("a record never reached the file before Close")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A client's 5 MB model name (and error, and request id) used to make a
// line longer than the file may grow; lumberjack refused it and the
// buffered writer kept that error, losing every later record until a
// restart. Fields are now bounded, so the line is written, and so is
// everything after it.
func TestHugeFieldsDoNotWedgeTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.log")
	w, err := Open(Options{Path: path, MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	huge := record(0)
	huge.Model = strings.Repeat("m", 5<<20)
	huge.Error = strings.Repeat("é", 3<<20)
	huge.RequestID = strings.Repeat("r", 2<<20)
	w.Record(huge)
	for i := range 10 {
		w.Record(record(i))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 11 || w.Written() != 11 || w.Failed() != 0 {
		t.Fatalf("%d lines, written %d, failed %d", len(lines), w.Written(), w.Failed())
	}
	if len(lines[0]) > 8<<10 {
		t.Errorf("the bounded line is %d bytes", len(lines[0]))
	}
	var first struct {
		Model, Error string
		RequestID    string `json:"request_id"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.Model != strings.Repeat("m", maxName)+"…[truncated "+strconv.Itoa(5<<20-maxName)+" bytes]" {
		t.Errorf("model %.300q", first.Model)
	}
	if !strings.HasSuffix(first.Error, " bytes]") || !utf8.ValidString(first.Error) || !strings.HasPrefix(first.RequestID, "rrr") {
		t.Errorf("error %.100q… request id %.100q…", first.Error, first.RequestID)
	}
}

// failingFile refuses its first write after writing part of it, then
// works, as a full disk that was cleaned up would.
type failingFile struct {
	mu       sync.Mutex
	failures int
	attempts int
	longest  int // the longest write asked for
	buf      bytes.Buffer
}

func (f *failingFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	f.longest = max(f.longest, len(p))
	if f.failures > 0 {
		f.failures--
		f.buf.Write(p[:5])
		return 5, errors.New("no space left on device")
	}
	return f.buf.Write(p)
}

func (f *failingFile) Close() error { return nil }

func (f *failingFile) tried() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts
}

// A write that fails loses the records of that batch, counted by Failed,
// and the writer goes on: the next records reach the file, on a line of
// their own after the torn one.
func TestFailedWriteIsCountedAndTheWriterGoesOn(t *testing.T) {
	f := &failingFile{failures: 1}
	w := start(Options{QueueSize: 16, FlushInterval: time.Millisecond}, f, 1<<20)
	first := record(0)
	first.RequestID = "req_lost"
	w.Record(first)
	for deadline := time.Now().Add(5 * time.Second); f.tried() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the writer never wrote")
		}
	}
	second := record(0)
	second.RequestID = "req_kept"
	w.Record(second)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Failed() != 1 || w.Written() != 1 {
		t.Fatalf("failed %d written %d", w.Failed(), w.Written())
	}
	lines := strings.Split(strings.TrimSuffix(f.buf.String(), "\n"), "\n")
	if len(lines) != 2 || lines[0] != `{"id"` {
		t.Fatalf("file:\n%s", f.buf.String())
	}
	var kept struct {
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &kept); err != nil || kept.RequestID != "req_kept" {
		t.Fatalf("second line %q: %v", lines[1], err)
	}
}

// A backlog longer than the file accepts in one write goes out in
// pieces of whole lines, none longer than the file's limit or flushSize;
// after a torn write the next piece still fits.
func TestBacklogIsWrittenInPieces(t *testing.T) {
	for _, maxLine := range []int{1000, 1 << 20} {
		f := &failingFile{failures: 1}
		w := start(Options{QueueSize: 100000, FlushInterval: time.Hour}, f, maxLine)
		const n = 2000 // about 600 KB
		for i := range n {
			w.Record(record(i))
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if f.longest > min(maxLine, flushSize) {
			t.Errorf("maxLine %d: a write of %d bytes", maxLine, f.longest)
		}
		lines := strings.Split(strings.TrimSuffix(f.buf.String(), "\n"), "\n")
		if w.Written()+w.Failed() != n || w.Written() == 0 || len(lines) != int(w.Written())+1 || lines[0] != `{"id"` {
			t.Errorf("maxLine %d: written %d failed %d, %d lines in the file, first %.20q", maxLine, w.Written(), w.Failed(), len(lines), lines[0])
		}
		for _, l := range lines[1:] {
			if !json.Valid([]byte(l)) {
				t.Fatalf("maxLine %d: line %q", maxLine, l)
			}
		}
	}
}

// A line longer than the file may grow is dropped and counted, not
// written; the next record is.
func TestLineOverTheSizeLimitIsDropped(t *testing.T) {
	f := &failingFile{}
	w := start(Options{QueueSize: 16, FlushInterval: time.Hour}, f, 1000)
	long := record(0)
	long.Error = strings.Repeat("e", 2000)
	w.Record(long)
	w.Record(record(1))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Failed() != 1 || w.Written() != 1 || strings.Count(f.buf.String(), "\n") != 1 {
		t.Fatalf("failed %d written %d file %q", w.Failed(), w.Written(), f.buf.String())
	}
}

func TestBound(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "abc…[truncated 1 bytes]"},
		{"aé", 2, "a…[truncated 2 bytes]"}, // never half a rune
		{"", 0, ""},
	} {
		if got := bound(c.in, c.max); got != c.want {
			t.Errorf("bound(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

// FuzzAppendLine holds appendLine byte-equal to the json.Encoder (HTML
// escaping off) it replaced, for any strings (invalid UTF-8, control
// characters, U+2028, HTML characters), numbers and flags.
func FuzzAppendLine(f *testing.F) {
	f.Add("01HX", "2026-12-06T07:00:00.123456789Z", "req_1", "k", "POST", "/v1/chat/completions", "openai", "openai/gpt-4o", "gpt-4o-2024", "upstream: <bad> & \"worse\"\n\x00\u2028\xff",
		true, 200, 1234.5, 0.001, 10, 20, 30, 5, 0, 7, false)
	f.Add("", "", "", "", "", "", "", "", "", "", false, -1, 1e-7, 1e21, -3, 0, 0, 0, 0, 0, true)
	f.Fuzz(func(t *testing.T, id, tm, rid, key, method, path, prov, model, up, errText string, stream bool, status int,
		dur, ttft float64, p, c, tot, cached, reasoning, cacheWrite int, est bool) {
		l := line{ID: id, Time: tm, RequestID: rid, KeyID: key, Method: method, Path: path, Provider: prov, Model: model,
			UpstreamModel: up, Stream: stream, Status: status, DurationMS: dur, TTFTMS: ttft, PromptTokens: p, CompletionTokens: c,
			TotalTokens: tot, CachedTokens: cached, ReasoningTokens: reasoning, CacheWriteTokens: cacheWrite, Estimated: est, Error: errText}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		werr := enc.Encode(l)
		got, gerr := appendLine(nil, &l)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("errors differ: encoder %v, appendLine %v", werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("\n got %s\nwant %s", got, want.Bytes())
		}
	})
}
