package reqbody

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"testing/iotest"
	"weak"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sendHeld posts a 1 MiB body to srv, holding it when hold is set, and
// returns the response (unread) and a weak pointer to the body's buffer.
func sendHeld(t *testing.T, srv *httptest.Server, hold bool) (*http.Response, weak.Pointer[byte]) {
	t.Helper()
	buf := bytes.Repeat([]byte("x"), 1<<20)
	wp := weak.Make(&buf[0])
	req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(buf))
	if err != nil {
		t.Fatal(err)
	}
	release := func() {}
	if hold {
		release = Hold(req)
	}
	resp, err := srv.Client().Do(req)
	release()
	if err != nil {
		t.Fatal(err)
	}
	return resp, wp
}

// The buffer of a sent request is garbage while its response is still
// being read, and only with Hold: without it the response's Request keeps
// it (which is what makes this test able to fail).
func TestSentBodyIsReleasedWhileTheResponseIsRead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, _ := io.Copy(io.Discard, r.Body); n != 1<<20 {
			t.Errorf("server read %d bytes", n)
		}
		w.Write([]byte("answer"))
	}))
	defer srv.Close()
	for _, hold := range []bool{true, false} {
		resp, wp := sendHeld(t, srv, hold)
		for range 3 {
			runtime.GC()
		}
		if freed := wp.Value() == nil; freed != hold {
			t.Errorf("hold %v: body freed %v while the response is open", hold, freed)
		}
		if got, _ := io.ReadAll(resp.Body); string(got) != "answer" {
			t.Errorf("hold %v: answer %q", hold, got)
		}
		resp.Body.Close()
		runtime.KeepAlive(resp)
	}
	srv.Client().CloseIdleConnections()
}

// GetBody works until release (the transport may resend on a reused
// connection that failed) and refuses after it; a closed body reads as
// released, and Close twice is harmless.
func TestGetBodyUntilRelease(t *testing.T) {
	want := bytes.Repeat([]byte("abc"), Small)
	req, _ := http.NewRequest(http.MethodPost, "http://example.invalid", bytes.NewReader(want))
	release := Hold(req)
	rc, err := req.GetBody()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(rc); !bytes.Equal(b, want) {
		t.Errorf("GetBody read %q", b)
	}
	release()
	if _, err := req.GetBody(); !errors.Is(err, errReleased) {
		t.Errorf("GetBody after release: %v", err)
	}
	if err := req.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if err := req.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := req.Body.Read(make([]byte, 1)); !errors.Is(err, errReleased) {
		t.Errorf("Read after Close: %v", err)
	}
}

// A request without a body, or with a small one, is left as it is: the
// transport writes a small in-memory body with its headers.
func TestNoOrSmallBody(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "http://example.invalid", nil)
	Hold(req)()
	if req.Body != nil || req.GetBody != nil {
		t.Errorf("body %v getBody set %v", req.Body, req.GetBody != nil)
	}
	req, _ = http.NewRequest(http.MethodPost, "http://example.invalid", bytes.NewReader(make([]byte, Small)))
	body := req.Body
	Hold(req)()
	if req.Body != body {
		t.Errorf("a %d-byte body was wrapped", Small)
	}
}

// Fit copies only a body that wastes more than a quarter of its buffer.
func TestFit(t *testing.T) {
	tight := make([]byte, 100, 125)
	if got := Fit(tight); &got[0] != &tight[0] {
		t.Error("a buffer within a quarter of its length was copied")
	}
	loose := append(make([]byte, 0, 256), "0123456789"...)
	got := Fit(loose)
	if string(got) != "0123456789" || cap(got) != len(got) {
		t.Errorf("Fit = %q cap %d", got, cap(got))
	}
}

// TestReadOneAllocation: a body of the length it declared is read into
// one buffer of that length; a longer one (or one of no declared length)
// grows and is trimmed; errors come back with what was read.
func TestReadOneAllocation(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 10_000)
	r := bytes.NewReader(body)
	if n := testing.AllocsPerRun(20, func() {
		r.Reset(body)
		if b, err := Read(r, len(body)); err != nil || len(b) != len(body) {
			t.Fatalf("read %d, %v", len(b), err)
		}
	}); n != 1 {
		t.Errorf("%v allocations for a body of its declared length, want 1", n)
	}
	for _, hint := range []int{0, 1, 600, len(body) - 1, len(body), 2 * len(body)} {
		b, err := Read(bytes.NewReader(body), hint)
		if err != nil || !bytes.Equal(b, body) {
			t.Fatalf("hint %d: %d bytes, %v", hint, len(b), err)
		}
		if cap(b)-len(b) > len(b)/4 {
			t.Errorf("hint %d: %d bytes in a buffer of %d", hint, len(b), cap(b))
		}
	}
	b, err := Read(io.MultiReader(bytes.NewReader(body[:100]), iotest.ErrReader(io.ErrUnexpectedEOF)), len(body))
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(b) != 100 {
		t.Errorf("a cut body: %d bytes, %v", len(b), err)
	}
}

// BenchmarkRead: a coding agent's 100 kB body of its declared length,
// read by Read and as the handler read it before (bytes.Buffer sized from
// the Content-Length, ReadFrom, Fit).
func BenchmarkRead(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789"), 10_000)
	r := bytes.NewReader(body)
	b.Run("Read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Reset(body)
			if got, _ := Read(r, len(body)); len(got) != len(body) {
				b.Fatal(len(got))
			}
		}
	})
	b.Run("bytes.Buffer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Reset(body)
			var buf bytes.Buffer
			buf.Grow(len(body) + 1)
			_, _ = buf.ReadFrom(r)
			if got := Fit(buf.Bytes()); len(got) != len(body) {
				b.Fatal(len(got))
			}
		}
	})
}
