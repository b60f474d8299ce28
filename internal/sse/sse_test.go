package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

func readAll(t testing.TB, r *Reader) ([]string, error) {
	t.Helper()
	var out []string
	for {
		ev, err := r.Next()
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		s := string(ev.Data)
		if ev.Name != "" {
			s = ev.Name + "|" + s
		}
		out = append(out, s)
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"openai LF framing", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []string{`{"a":1}`, "[DONE]"}},
		{"gemini CRLF framing", "data: {\"a\":1}\r\n\r\ndata: {\"b\":2}\r\n\r\n", []string{`{"a":1}`, `{"b":2}`}},
		{"lone CR framing", "data: x\r\rdata: y\r\r", []string{"x", "y"}},
		{"deepseek keep-alive comments are skipped", ": keep-alive\n\ndata: 1\n\n: keep-alive\n\ndata: 2\n\n", []string{"1", "2"}},
		{"multi-line data joined with LF", "data: a\ndata: b\n\n", []string{"a\nb"}},
		{"no space after colon", "data:x\n\n", []string{"x"}},
		{"only one leading space removed", "data:  x\n\n", []string{" x"}},
		{"event name kept", "event: message_start\ndata: {}\n\n", []string{"message_start|{}"}},
		{"event name reset between events", "event: a\ndata: 1\n\ndata: 2\n\n", []string{"a|1", "2"}},
		{"empty data line is an event", "data:\n\n", []string{""}},
		{"field without colon", "data\n\n", []string{""}},
		{"unterminated last event still returned", "data: 1\n\ndata: [DONE]", []string{"1", "[DONE]"}},
		{"id and retry ignored", "id: 7\nretry: 10\ndata: z\n\n", []string{"z"}},
		{"blank lines alone dispatch nothing", "\n\n\r\n\n", nil},
		{"unknown fields ignored", "foo: bar\ndata: q\n\n", []string{"q"}},
		{"CRLF split across reads", "data: a\r\n\r\ndata: b\r\n\r\n", []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []string{"whole", "one byte"} {
				var src io.Reader = strings.NewReader(tt.in)
				if mode == "one byte" {
					src = iotest.OneByteReader(src)
				}
				got, err := readAll(t, NewReader(src))
				if err != nil {
					t.Fatalf("%s: %v", mode, err)
				}
				if strings.Join(got, "\x00") != strings.Join(tt.want, "\x00") || len(got) != len(tt.want) {
					t.Errorf("%s: got %q, want %q", mode, got, tt.want)
				}
			}
		})
	}
}

func TestReaderLongLine(t *testing.T) {
	// Far beyond bufio.Scanner's 64 KiB default: base64 images and long
	// tool-call arguments arrive as single lines.
	big := strings.Repeat("x", 1<<20)
	got, err := readAll(t, NewReader(strings.NewReader("data: "+big+"\n\ndata: end\n\n")))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != big || got[1] != "end" {
		t.Fatalf("long line not read back intact (got %d events)", len(got))
	}
}

func TestReaderEventTooLarge(t *testing.T) {
	r := NewReaderSize(strings.NewReader("data: "+strings.Repeat("y", 5000)+"\n\n"), 1024)
	if _, err := r.Next(); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("got %v, want ErrEventTooLarge", err)
	}
	// Many data lines that are each short but add up.
	r = NewReaderSize(strings.NewReader(strings.Repeat("data: 0123456789\n", 200)+"\n"), 1024)
	if _, err := r.Next(); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("got %v, want ErrEventTooLarge", err)
	}
}

func TestReaderPropagatesReadError(t *testing.T) {
	boom := errors.New("connection reset")
	r := NewReader(io.MultiReader(strings.NewReader("data: 1\n\ndata: 2"), iotest.ErrReader(boom)))
	if ev, err := r.Next(); err != nil || string(ev.Data) != "1" {
		t.Fatalf("first event: %q %v", ev.Data, err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the read error (a cut stream is not a finished one)", err)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	payloads := []string{`{"a":1}`, "two\nlines", "cr\rlf\r\nmix", "", "[DONE]", " leading space"}
	var buf bytes.Buffer
	for _, p := range payloads {
		if err := WriteData(&buf, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteComment(&buf, "keep-alive"); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`{"a":1}`, "two\nlines", "cr\nlf\nmix", "", "[DONE]", " leading space"}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestWriteDone(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteDone(&buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "data: [DONE]\n\n" {
		t.Fatalf("got %q", buf.String())
	}
}

func TestWriteEventRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteEvent(&buf, "message_start", []byte(`{"type":"message_start"}`)); err != nil {
		t.Fatal(err)
	}
	if err := WriteEvent(&buf, "", []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if want := "event: message_start\ndata: {\"type\":\"message_start\"}\n\ndata: {\"a\":1}\n\n"; buf.String() != want {
		t.Fatalf("wrote %q, want %q", buf.String(), want)
	}
	r := NewReader(&buf)
	ev, err := r.Next()
	if err != nil || ev.Name != "message_start" || string(ev.Data) != `{"type":"message_start"}` {
		t.Fatalf("read back %q %q %v", ev.Name, ev.Data, err)
	}
	if ev, err = r.Next(); err != nil || ev.Name != "" || string(ev.Data) != `{"a":1}` {
		t.Fatalf("second event %q %q %v", ev.Name, ev.Data, err)
	}
}

// countingReader hands out what it has, up to len(p), and counts reads: a
// relay flushes its client before each, so each is a write to the client.
type countingReader struct {
	data  []byte
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	c.reads++
	n := copy(p, c.data)
	c.data = c.data[n:]
	return n, nil
}

// A burst of events the source has ready is read in 4 KiB pieces once a
// read fills the 1 KiB buffer; events that come one at a time keep it.
func TestReaderReadsBurstsWhole(t *testing.T) {
	var stream []byte
	for range 22 {
		stream = append(stream, "data: "+strings.Repeat("x", 190)+"\n\n"...)
	}
	src := &countingReader{data: stream}
	r := NewReader(src)
	n := 0
	for {
		if _, err := r.Next(); err != nil {
			break
		}
		n++
	}
	if n != 22 {
		t.Fatalf("%d events, want 22", n)
	}
	// 4,396 bytes: one 1 KiB read, then 4 KiB reads.
	if src.reads > 3 {
		t.Errorf("%d reads for a %d-byte burst, want at most 3", src.reads, len(stream))
	}
	if len(r.buf) != burstSize {
		t.Errorf("buffer %d after a burst, want %d", len(r.buf), burstSize)
	}

	slow := NewReader(&oneEventReader{events: 22})
	for {
		if _, err := slow.Next(); err != nil {
			break
		}
	}
	if len(slow.buf) != 1<<10 {
		t.Errorf("buffer %d for events that come one at a time, want 1 KiB", len(slow.buf))
	}
}

// oneEventReader returns one 200-byte event per read.
type oneEventReader struct{ events int }

func (o *oneEventReader) Read(p []byte) (int, error) {
	if o.events == 0 {
		return 0, io.EOF
	}
	o.events--
	return copy(p, "data: "+strings.Repeat("y", 192)+"\n\n"), nil
}

// TestReaderNames: the names a Reader keeps for reuse never stand in for
// another name, whether a stream has fewer names than it keeps or more.
func TestReaderNames(t *testing.T) {
	var in strings.Builder
	var want []string
	for i := range 40 {
		name := string(rune('a'+i*7%6)) + strings.Repeat("x", i%3)
		want = append(want, name)
		in.WriteString("event: " + name + "\ndata: {}\n\n")
	}
	r := NewReader(strings.NewReader(in.String()))
	for i, w := range want {
		ev, err := r.Next()
		if err != nil || ev.Name != w {
			t.Fatalf("event %d: name %q, %v; want %q", i, ev.Name, err, w)
		}
	}
	repeated := "event: content_block_delta\ndata: {}\n\n"
	r = NewReader(strings.NewReader(strings.Repeat(repeated, 200)))
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = r.Next() }); n != 0 {
		t.Errorf("%v allocations per repeated named event, want 0", n)
	}
}

// Readers that release their buffers, many at once, each read their own
// stream whole (run with -race): a buffer is never given to two readers,
// and an event's data outlives its reader's Release.
func TestReleasedBuffersAreNotShared(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				var in strings.Builder
				n := 1 + (g*7+i)%40 // some streams fill 1 KiB reads (bursts), some do not
				for e := range n {
					fmt.Fprintf(&in, "event: e\ndata: {\"g\":%d,\"i\":%d,\"e\":%d,\"pad\":%q}\n\n", g, i, e, strings.Repeat("x", e*7))
				}
				r := NewReader(strings.NewReader(in.String()))
				var last []byte
				for e := 0; ; e++ {
					ev, err := r.Next()
					if err == io.EOF {
						if e != n {
							t.Errorf("%d events of %d", e, n)
						}
						break
					}
					want := fmt.Sprintf("{\"g\":%d,\"i\":%d,\"e\":%d,\"pad\":%q}", g, i, e, strings.Repeat("x", e*7))
					if err != nil || string(ev.Data) != want {
						t.Errorf("event %d: %q %v, want %q", e, ev.Data, err, want)
						return
					}
					last = ev.Data
				}
				r.Release()
				if !strings.HasPrefix(string(last), fmt.Sprintf("{\"g\":%d,\"i\":%d,", g, i)) {
					t.Errorf("the last event's data changed after Release: %q", last)
				}
			}
		})
	}
	wg.Wait()
}
