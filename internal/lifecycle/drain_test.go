package lifecycle

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

var errStop = errors.New("shutting down")

// A request that finishes within the timeout finishes normally; one that
// does not is ended through its context with the cause, and Drain waits
// for its handler before returning.
func TestDrain(t *testing.T) {
	r := NewRequests()
	if r.Draining() {
		t.Fatal("draining before Drain")
	}
	started := make(chan struct{}, 2)
	var mu sync.Mutex
	var causes []string
	srv := &http.Server{
		BaseContext: func(net.Listener) context.Context { return r.Base() },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			done := r.Track()
			defer done()
			started <- struct{}{}
			wait := time.Hour
			if req.URL.Path == "/quick" {
				wait = 50 * time.Millisecond
			}
			select {
			case <-time.After(wait):
				io.WriteString(w, "finished")
			case <-req.Context().Done():
				mu.Lock()
				causes = append(causes, context.Cause(req.Context()).Error())
				mu.Unlock()
			}
		}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	bodies := make(chan string, 2)
	for _, p := range []string{"/quick", "/stuck"} {
		go func() {
			resp, err := http.Get("http://" + ln.Addr().String() + p)
			if err != nil {
				bodies <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			bodies <- p + ":" + string(b)
		}()
	}
	<-started
	<-started
	var log strings.Builder
	begin := time.Now()
	if err := r.Drain(srv, 300*time.Millisecond, errStop, slog.New(slog.NewTextHandler(&log, nil))); err != nil {
		t.Errorf("Drain: %v", err)
	}
	if !r.Draining() {
		t.Error("not draining after Drain")
	}
	if d := time.Since(begin); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("Drain took %v", d)
	}
	mu.Lock()
	if len(causes) != 1 || causes[0] != errStop.Error() {
		t.Errorf("ended with causes %q, want one %q", causes, errStop)
	}
	mu.Unlock()
	if context.Cause(r.Base()) != errStop {
		t.Errorf("base context cause %v", context.Cause(r.Base()))
	}
	got := []string{<-bodies, <-bodies}
	if !strings.Contains(strings.Join(got, " "), "/quick:finished") {
		t.Errorf("the quick request did not finish: %q", got)
	}
	if !strings.Contains(log.String(), "shutdown timeout: ending the requests still running with an error") || !strings.Contains(log.String(), "requests=1") {
		t.Errorf("log:\n%s", log.String())
	}
}
