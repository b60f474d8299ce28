package ownstack

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Run hands back f's error, its panic, and its ending its goroutine as a
// panic, never a wait without end.
func TestRun(t *testing.T) {
	want := errors.New("e")
	if err := Run(func() error { return want }); err != want {
		t.Fatalf("error %v", err)
	}
	for _, c := range []struct {
		f    func() error
		want any
	}{
		{func() error { panic("boom") }, "boom"},
		{func() error { runtime.Goexit(); return nil }, ErrGoexit},
	} {
		func() {
			defer func() {
				if p := recover(); p != c.want {
					t.Errorf("recovered %v, want %v", p, c.want)
				}
			}()
			_ = Run(c.f)
			t.Errorf("no panic, want %v", c.want)
		}()
	}
}

// recorder is a ResponseWriter that records each Write and Flush.
type recorder struct {
	header  http.Header
	writes  []string
	flushes int
}

func (r *recorder) Header() http.Header {
	if r.header == nil {
		r.header = http.Header{}
	}
	return r.header
}
func (r *recorder) WriteHeader(int) {}
func (r *recorder) Write(p []byte) (int, error) {
	r.writes = append(r.writes, string(p))
	return len(p), nil
}
func (r *recorder) Flush() { r.flushes++ }

// An event's small writes reach net/http as one write when the stream
// flushes, and a long burst in writes of about passAt, never more than
// what was written; Close hands over the rest without a flush.
func TestWriterGathersWrites(t *testing.T) {
	rec := &recorder{}
	w := NewWriter(rec, http.NewResponseController(rec))
	for _, p := range []string{"data: ", `{"a":1}`, "\n\n", "data: ", `{"b":2}`, "\n\n"} {
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.writes) != 0 {
		t.Fatalf("net/http got %d writes before the flush", len(rec.writes))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "data: {\"a\":1}\n\ndata: {\"b\":2}\n\n"; len(rec.writes) != 1 || rec.writes[0] != want || rec.flushes != 1 {
		t.Fatalf("writes %q, %d flushes", rec.writes, rec.flushes)
	}
	if w.buf != nil {
		t.Fatal("a flushed stream keeps its buffer")
	}

	event := strings.Repeat("x", 1000)
	for range 9 { // 9,000 bytes: 5,000 go on as passAt is passed, 4,000 stay
		w.Write([]byte(event))
	}
	if n := len(rec.writes); n != 2 || len(rec.writes[1]) != 5000 {
		t.Fatalf("a 9,000-byte burst reached net/http as %d writes", n-1)
	}
	w.Write([]byte("tail"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(rec.writes[1:], "")
	if got != strings.Repeat(event, 9)+"tail" || rec.flushes != 1 {
		t.Fatalf("after Close: %d bytes, %d flushes", len(got), rec.flushes)
	}
	if w.buf != nil {
		t.Fatal("a closed stream keeps its buffer")
	}
}

// A write of passAt or more (a large event) is not copied: net/http gets
// what was gathered before it, then it as it is.
func TestWriterPassesLargeWrites(t *testing.T) {
	rec := &recorder{}
	w := NewWriter(rec, http.NewResponseController(rec))
	big := strings.Repeat("y", passAt+100)
	w.Write([]byte("a"))
	w.Write([]byte(big))
	w.Write([]byte("b"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(rec.writes) != 3 || rec.writes[0] != "a" || rec.writes[1] != big || rec.writes[2] != "b" {
		t.Fatalf("%d writes", len(rec.writes))
	}
}

// BenchmarkEvent is one relayed event as the stream writer writes it
// (three writes) into a ResponseWriter, with a flush every 8 events.
func BenchmarkEvent(b *testing.B) {
	rec := httptest.NewRecorder()
	w := NewWriter(rec, http.NewResponseController(rec))
	prefix, payload, end := []byte("data: "), []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" word"}}]}`), []byte("\n\n")
	b.ReportAllocs()
	for i := range b.N {
		w.Write(prefix)
		w.Write(payload)
		w.Write(end)
		if i%8 == 7 {
			w.Flush()
			rec.Body.Reset()
		}
	}
}
