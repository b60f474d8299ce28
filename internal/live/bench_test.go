//go:build unix

package live

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/cpubench"
)

// BenchmarkPublish is what the feed costs a request while one dashboard
// watches it: a start and an end event from each of 50 concurrent
// requests, and the HTTP subscriber that writes them out (cpubench). The
// feed's cost is watched's cpu-µs/op less unwatched's (nobody watching:
// no event is made).
func BenchmarkPublish(b *testing.B) {
	r := llmbridge.UsageRecord{ID: llmbridge.NewRecordID(time.Now()), Time: time.Now(), RequestID: "req_0123456789abcdef",
		KeyID: "key-1234abcd", Format: "chat", Model: "mock/m", Provider: "mock", UpstreamModel: "m", Stream: true, Status: 200,
		PromptTokens: 20, CompletionTokens: 20, TotalTokens: 40, Duration: 3 * time.Millisecond, TTFT: time.Millisecond}
	for _, watched := range []bool{true, false} {
		b.Run(map[bool]string{true: "watched", false: "unwatched"}[watched], func(b *testing.B) {
			hub := New(Options{Cost: func(llmbridge.UsageRecord) (float64, bool) { return 0.001, true }})
			if watched {
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
				defer func() { resp.Body.Close(); <-done }()
				for hub.Subscribers() == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			cpubench.Requests(b, 5*time.Millisecond, func() { hub.Start(r) }, func() { hub.End(r) })
			if hub.DroppedSubscribers() != 0 {
				b.Fatal("the subscriber was dropped")
			}
		})
	}
}
