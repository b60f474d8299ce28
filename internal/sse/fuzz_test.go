package sse

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzReader checks that arbitrary input never panics or loops, that the
// result does not depend on how the input is split into reads, and that
// every event's data fits the size limit.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"data: {\"a\":1}\n\ndata: [DONE]\n\n",
		"data: x\r\n\r\n: keep-alive\r\n\r\n",
		"event: ping\ndata: {}\n\n",
		"data: a\rdata: b\r\r",
		"data:\n\ndata\n\n:\n",
		"\r\n\r\r\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, errWhole := readAll(t, NewReaderSize(bytes.NewReader(in), 256))
		split, errSplit := readAll(t, NewReaderSize(iotest.OneByteReader(bytes.NewReader(in)), 256))
		if (errWhole == nil) != (errSplit == nil) || strings.Join(whole, "\x00") != strings.Join(split, "\x00") || len(whole) != len(split) {
			t.Fatalf("read splitting changed the result:\nwhole %q %v\nsplit %q %v", whole, errWhole, split, errSplit)
		}
		for _, ev := range whole {
			if len(ev) > 256+len("event|")+len(in) {
				t.Fatalf("event of %d bytes passed the 256-byte limit", len(ev))
			}
		}
	})
}

// FuzzRoundTrip checks that what the writer writes, the reader reads back.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte(`{"choices":[]}`), []byte("a\nb"))
	f.Add([]byte("\r"), []byte(""))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var buf bytes.Buffer
		_ = WriteData(&buf, a)
		_ = WriteComment(&buf, "x")
		_ = WriteData(&buf, b)
		r := NewReader(&buf)
		for _, want := range [][]byte{a, b} {
			ev, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			norm := bytes.ReplaceAll(bytes.ReplaceAll(want, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
			if !bytes.Equal(ev.Data, norm) {
				t.Fatalf("got %q, want %q", ev.Data, norm)
			}
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("trailing event or error: %v", err)
		}
	})
}
