package reqbody

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
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
