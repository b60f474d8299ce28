package live

import (
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
)

// BenchmarkPublish is what the feed costs a request while one dashboard
// watches it: a start and an end event published from concurrent
// requests, and the HTTP subscriber that writes them out. cpu-µs/op is
// the process's CPU time (getrusage) per request, which counts the
// subscriber's goroutine and its wake-ups; ns/op does not.
func BenchmarkPublish(b *testing.B) {
	b.Run("watched", func(b *testing.B) { benchPublish(b, true) })
	// The same requests with nobody watching: the events are not made.
	// The feed's cost is watched's cpu-µs/op less this one's.
	b.Run("unwatched", func(b *testing.B) { benchPublish(b, false) })
}

func benchPublish(b *testing.B, watched bool) {
	hub := New(Options{Cost: func(llmbridge.UsageRecord) (float64, bool) { return 0.001, true }})
	if !watched {
		benchRequests(b, hub)
		return
	}
	feed := httptest.NewServer(hub)
	defer feed.Close()
	resp, err := http.Get(feed.URL)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(io.Discard, resp.Body)
	}()
	for hub.Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}
	benchRequests(b, hub)
	if hub.DroppedSubscribers() != 0 {
		b.Fatalf("the subscriber was dropped")
	}
	resp.Body.Close()
	<-done
}

// benchRequests publishes the events of b.N requests, 50 at a time, 5 ms
// long each (10,000 a second, as a busy gateway), and reports the process's CPU time per
// request.
func benchRequests(b *testing.B, hub *Hub) {
	r := llmbridge.UsageRecord{ID: llmbridge.NewRecordID(time.Now()), Time: time.Now(), RequestID: "req_0123456789abcdef",
		KeyID: "key-1234abcd", Format: "chat", Model: "mock/m", Provider: "mock", UpstreamModel: "m", Stream: true, Status: 200,
		PromptTokens: 20, CompletionTokens: 20, TotalTokens: 40, Duration: 3 * time.Millisecond, TTFT: time.Millisecond}
	var start, end syscall.Rusage
	b.ReportAllocs()
	b.SetParallelism(25)
	b.ResetTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &start)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			hub.Start(r)
			// A request takes a while between its two events: without it
			// the subscriber would always find the next one waiting.
			time.Sleep(5 * time.Millisecond)
			hub.End(r)
		}
	})
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &end)
	b.StopTimer()
	cpu := time.Duration(syscall.TimevalToNsec(end.Utime)+syscall.TimevalToNsec(end.Stime)) -
		time.Duration(syscall.TimevalToNsec(start.Utime)+syscall.TimevalToNsec(start.Stime))
	b.ReportMetric(float64(cpu.Nanoseconds())/1000/float64(b.N), "cpu-µs/op")
}
