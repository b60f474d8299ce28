package live

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/golden"
	"github.com/llmbridge/llmbridge/internal/sse"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// feedEvent is what a test reads back of an event.
type feedEvent struct {
	Type, RequestID, Provider, Target string
	Status                            int
	TotalTokens                       int      `json:"total_tokens"`
	CostUSD                           *float64 `json:"cost_usd"`
}

func (e *feedEvent) UnmarshalJSON(b []byte) error {
	var raw struct {
		Type        string   `json:"type"`
		RequestID   string   `json:"request_id"`
		Provider    string   `json:"provider"`
		Target      string   `json:"target"`
		Status      int      `json:"status"`
		TotalTokens int      `json:"total_tokens"`
		CostUSD     *float64 `json:"cost_usd"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*e = feedEvent{raw.Type, raw.RequestID, raw.Provider, raw.Target, raw.Status, raw.TotalTokens, raw.CostUSD}
	return nil
}

// next returns the subscription's next event, waiting up to 5 s for it
// (ok false: none came, or the subscription ended first). The events
// taken with it and not returned yet wait in *queue.
func next(t *testing.T, sub *Subscription, queue *[]sse.Event) (sse.Event, bool) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for len(*queue) == 0 {
		select {
		case <-sub.Ready():
		case <-timeout:
			return sse.Event{}, false
		}
		frames, n, ended := sub.Take(nil)
		r := sse.NewReader(bytes.NewReader(frames))
		for range n {
			ev, err := r.Next()
			if err != nil {
				t.Fatalf("reading the frames %q: %v", frames, err)
			}
			ev.Data = bytes.Clone(ev.Data)
			*queue = append(*queue, ev)
		}
		if ended && len(*queue) == 0 {
			return sse.Event{}, false
		}
	}
	ev := (*queue)[0]
	*queue = (*queue)[1:]
	return ev, true
}

// subscribe connects to the feed over HTTP and returns its events as
// they come; the channel closes when the stream ends.
func subscribe(t *testing.T, ctx context.Context, url string) <-chan feedEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("feed answered %d %q", resp.StatusCode, ct)
	}
	out := make(chan feedEvent, 1000)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		r := sse.NewReader(resp.Body)
		for {
			ev, err := r.Next()
			if err != nil {
				return
			}
			var fe feedEvent
			if err := json.Unmarshal(ev.Data, &fe); err != nil || fe.Type != ev.Name {
				t.Errorf("event %q: %s (%v)", ev.Name, ev.Data, err)
				return
			}
			out <- fe
		}
	}()
	return out
}

func TestFeedDeliversEveryRecordInOrderToTwoSubscribers(t *testing.T) {
	up := testupstream.New(t, testupstream.OpenAI)
	hub := New(Options{Cost: func(r llmbridge.UsageRecord) (float64, bool) { return 0.5, r.UpstreamModel == "gpt-4o" }})
	var mu sync.Mutex
	var order []string // request ids as the usage sink saw their ends
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: "sk-upstream-test"})),
		llmbridge.WithObserver(hub),
		llmbridge.WithUsageSink(func(r llmbridge.UsageRecord) { mu.Lock(); order = append(order, r.RequestID); mu.Unlock() }),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	api := httptest.NewServer(b.Handler())
	defer api.Close()
	feed := httptest.NewServer(hub)
	defer feed.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subs := []<-chan feedEvent{subscribe(t, ctx, feed.URL), subscribe(t, ctx, feed.URL)}
	for hub.Subscribers() < 2 {
		time.Sleep(time.Millisecond)
	}
	// The hub's own order, read in process: the observers of concurrent
	// requests run side by side, so the usage sink's order may differ
	// from the hub's; every subscriber must see the hub's.
	direct := hub.Subscribe()
	defer direct.Close()

	const n = 20
	var wg sync.WaitGroup
	for i := range n { // concurrent requests: every subscriber sees the hub's order
		wg.Go(func() {
			model := "openai/gpt-4o"
			if i%5 == 0 {
				model = "nope/x" // refused before routing: an end without a start
			}
			body := `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}],"stream":` + map[bool]string{true: "true", false: "false"}[i%2 == 0] + `}`
			resp, err := http.Post(api.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	mu.Lock()
	records := append([]string(nil), order...)
	mu.Unlock()
	if len(records) != n {
		t.Fatalf("%d records, want %d", len(records), n)
	}
	var want []string
	var queue []sse.Event
	for len(want) < n {
		ev, ok := next(t, direct, &queue)
		if !ok {
			t.Fatalf("the hub published %d of %d ends", len(want), n)
		}
		if ev.Name == "end" {
			var e feedEvent
			if err := json.Unmarshal(ev.Data, &e); err != nil {
				t.Fatal(err)
			}
			want = append(want, e.RequestID)
		}
	}
	if fmt.Sprint(slices.Sorted(slices.Values(want))) != fmt.Sprint(slices.Sorted(slices.Values(records))) {
		t.Fatalf("the hub's ends %v are not the records %v", want, records)
	}
	for i, sub := range subs {
		var ends []string
		starts := map[string]bool{}
		for len(ends) < n {
			select {
			case ev := <-sub:
				switch ev.Type {
				case "start":
					starts[ev.RequestID] = true
					if ev.Target != "openai/gpt-4o" {
						t.Errorf("start event %+v", ev)
					}
				case "end":
					if ev.Provider != "" && !starts[ev.RequestID] {
						t.Errorf("subscriber %d: end of %s before its start", i, ev.RequestID)
					}
					if ev.Status == 200 && (ev.TotalTokens != 11 || ev.CostUSD == nil || *ev.CostUSD != 0.5) {
						t.Errorf("end event %+v", ev)
					}
					if ev.Status == 404 && ev.CostUSD != nil {
						t.Errorf("unrouted request has a cost: %+v", ev)
					}
					ends = append(ends, ev.RequestID)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("subscriber %d: %d of %d ends", i, len(ends), n)
			}
		}
		if strings.Join(ends, ",") != strings.Join(want, ",") {
			t.Errorf("subscriber %d order:\n%v\nwant\n%v", i, ends, want)
		}
	}
	if hub.DroppedSubscribers() != 0 {
		t.Errorf("%d subscribers dropped", hub.DroppedSubscribers())
	}
	cancel()
	for _, sub := range subs {
		for range sub { // the reader goroutines end
		}
	}
}

func TestStalledSubscriberIsDroppedWithoutSlowingRequests(t *testing.T) {
	up := testupstream.New(t, testupstream.OpenAI)
	hub := New(Options{Buffer: 4})
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: "sk-upstream-test"})),
		llmbridge.WithObserver(hub),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	stalled := hub.Subscribe() // never read
	defer stalled.Close()
	reader := hub.Subscribe()
	defer reader.Close()
	var got int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range reader.Ready() {
			_, n, ended := reader.Take(nil)
			if got += n; ended {
				return
			}
		}
	}()

	// Each in-process request publishes a start and an end: the stalled
	// subscriber's buffer of 4 is full after two. If publishing waited on
	// it, the third request would never return.
	const n = 10
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for range n {
			if _, err := b.ChatCompletion(context.Background(), &llmbridge.ChatRequest{Model: "openai/gpt-4o",
				Messages: []llmbridge.Message{{Role: "user", Content: llmbridge.TextContent("hi")}}}); err != nil {
				t.Error(err)
			}
		}
	}()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("requests blocked on a stalled subscriber")
	}
	if !stalled.Dropped() || hub.DroppedSubscribers() != 1 {
		t.Fatalf("stalled subscriber not dropped (dropped=%v, count %d)", stalled.Dropped(), hub.DroppedSubscribers())
	}
	_, buffered, ended := stalled.Take(nil) // ended after the 4 events it had room for
	if !ended || buffered != 4 {
		t.Errorf("stalled subscriber kept %d events (ended %v), want 4 and the end", buffered, ended)
	}
	reader.Close()
	<-done
	if got != 2*n {
		t.Errorf("the reading subscriber got %d events, want %d", got, 2*n)
	}
	if hub.Subscribers() != 0 {
		t.Errorf("%d subscribers left", hub.Subscribers())
	}
}

// blockingWriter is a ResponseWriter whose writes wait until released: a
// client that stopped reading.
type blockingWriter struct {
	header  http.Header
	release chan struct{}
	entered chan struct{}
	once    sync.Once
	mu      sync.Mutex
	body    strings.Builder
	flushes int
}

func (w *blockingWriter) Header() http.Header { return w.header }
func (w *blockingWriter) WriteHeader(int)     {}
func (w *blockingWriter) Flush()              { w.mu.Lock(); w.flushes++; w.mu.Unlock() }
func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.Write(p)
}

func TestHTTPSubscriberThatFallsBehindGetsDroppedEvent(t *testing.T) {
	hub := New(Options{Buffer: 2})
	w := &blockingWriter{header: http.Header{}, release: make(chan struct{}), entered: make(chan struct{})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		hub.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/admin/api/live", nil))
	}()
	<-w.entered // stuck writing ": connected"
	for i := range 5 {
		hub.End(llmbridge.UsageRecord{RequestID: "r" + string(rune('0'+i)), Status: 200})
	}
	if hub.DroppedSubscribers() != 1 {
		t.Fatalf("dropped %d, want 1", hub.DroppedSubscribers())
	}
	close(w.release)
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not end after its subscriber was dropped")
	}
	r := sse.NewReader(strings.NewReader(w.body.String()))
	var names, ids []string
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, ev.Name)
		var fe feedEvent
		_ = json.Unmarshal(ev.Data, &fe)
		ids = append(ids, fe.RequestID)
	}
	if strings.Join(names, ",") != "end,end,dropped" || ids[0] != "r0" || ids[1] != "r1" {
		t.Errorf("events %v %v, want the two buffered ends then dropped", names, ids)
	}
}

// TestBusyFeedIsWrittenInBatches: the events that wait while the
// subscriber's connection is busy go out together, in order, with one
// flush (one write system call) per batch rather than per event.
func TestBusyFeedIsWrittenInBatches(t *testing.T) {
	hub := New(Options{})
	w := &blockingWriter{header: http.Header{}, release: make(chan struct{}), entered: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		hub.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/admin/api/live", nil).WithContext(ctx))
	}()
	<-w.entered // busy writing ": connected"
	const n = 300
	for i := range n {
		hub.End(llmbridge.UsageRecord{RequestID: fmt.Sprint("r", i), Status: 200})
	}
	close(w.release)
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(w.String(), "event: end") < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-served
	body := w.String()
	for i := range n {
		want := fmt.Sprintf(`"request_id":"r%d"`, i)
		at := strings.Index(body, want)
		if at < 0 {
			t.Fatalf("event %d missing", i)
		}
		body = body[at:]
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// ": connected", then the 300 events in one batch.
	if w.flushes > 2 {
		t.Errorf("%d flushes for %d waiting events, want 2", w.flushes, n)
	}
}

// TestBusyFeedIsGathered: an event after a quiet spell goes out at once;
// events that follow within FlushInterval are gathered into one flush.
func TestBusyFeedIsGathered(t *testing.T) {
	hub := New(Options{FlushInterval: 300 * time.Millisecond})
	w, stop := serveFeed(t, hub)
	flushes := func() int { w.mu.Lock(); defer w.mu.Unlock(); return w.flushes }
	time.Sleep(350 * time.Millisecond) // a quiet spell after ": connected"
	hub.End(llmbridge.UsageRecord{RequestID: "first", Status: 200})
	// ": connected" and then the first event: two flushes.
	for deadline := time.Now().Add(time.Second); !strings.Contains(w.String(), `"first"`) || flushes() < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first event after a quiet spell was held back")
		}
	}
	before := flushes()
	for i := range 5 {
		hub.End(llmbridge.UsageRecord{RequestID: fmt.Sprint("busy", i), Status: 200})
		time.Sleep(10 * time.Millisecond)
	}
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(w.String(), `"busy4"`) || flushes() == before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the gathered events never went out")
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n := flushes() - before; n != 1 {
		t.Errorf("%d flushes for 5 events within the interval, want 1", n)
	}
	stop()
}

// TestBusyFeedIsTakenAtHalfTheBuffer: a subscriber gathering events for
// its FlushInterval takes them once half its buffer waits, so a feed
// busier than Buffer events per interval is written, not dropped. The
// first event, after a quiet spell, goes out at once; after it, each
// group of half the buffer (4) is taken without the (hour-long)
// interval. (Sent 4 at a time from the first, the test depended on the
// subscriber taking the first alone or not: when it did, 3 waited for
// the interval; and sent without pauses, a group was often in before
// the subscriber looked, so the wake at half the buffer went untested.)
func TestBusyFeedIsTakenAtHalfTheBuffer(t *testing.T) {
	hub := New(Options{Buffer: 8, FlushInterval: time.Hour})
	w, stop := serveFeed(t, hub)
	for i := range 41 {
		hub.End(llmbridge.UsageRecord{RequestID: fmt.Sprint("r", i), Status: 200})
		if i%4 != 0 {
			// Time for the subscriber to wait again, so that only the
			// wake at half the buffer takes the group.
			time.Sleep(2 * time.Millisecond)
			continue
		}
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(w.String(), fmt.Sprintf(`"r%d"`, i)); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("events up to r%d (the first, then half the buffer) were not taken", i)
			}
		}
	}
	if hub.DroppedSubscribers() != 0 {
		t.Errorf("%d subscribers dropped", hub.DroppedSubscribers())
	}
	stop()
}

// serveFeed serves hub to a writer that never blocks, once subscribed;
// stop ends the request and waits for the handler.
func serveFeed(t *testing.T, hub *Hub) (w *blockingWriter, stop func()) {
	t.Helper()
	w = &blockingWriter{header: http.Header{}, release: make(chan struct{}), entered: make(chan struct{})}
	close(w.release)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		hub.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/admin/api/live", nil).WithContext(ctx))
	}()
	for hub.Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}
	return w, func() { cancel(); <-served }
}

func (w *blockingWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.String()
}

func TestNoSubscribersNoWork(t *testing.T) {
	hub := New(Options{Cost: func(llmbridge.UsageRecord) (float64, bool) { panic("priced without subscribers") }})
	rec := llmbridge.UsageRecord{Provider: "p", Status: 200}
	if n := testing.AllocsPerRun(100, func() { hub.Start(rec); hub.End(rec) }); n != 0 {
		t.Errorf("%v allocations per record without subscribers", n)
	}
}

// TestUnauthenticatedRecordsAreNotPublished: a request refused before its
// caller was known (no key, a wrong one, a throttled source) never reaches
// the feed; the authenticated request after it does, first.
func TestUnauthenticatedRecordsAreNotPublished(t *testing.T) {
	hub := New(Options{Buffer: 8})
	sub := hub.Subscribe()
	defer sub.Close()
	for _, status := range []int{http.StatusUnauthorized, http.StatusTooManyRequests} {
		refused := llmbridge.UsageRecord{RequestID: "refused", Method: "POST", Path: "/v1/chat/completions", Format: "chat",
			Status: status, ErrorCode: "invalid_api_key", Unauthenticated: true}
		hub.Start(refused) // not called by the Bridge for them; refused all the same
		hub.End(refused)
	}
	hub.End(llmbridge.UsageRecord{RequestID: "served", Format: "chat", Provider: "p", Model: "p/m", UpstreamModel: "m", Status: 200})
	var queue []sse.Event
	ev, ok := next(t, sub, &queue)
	if !ok {
		t.Fatal("no event")
	}
	if !strings.Contains(string(ev.Data), `"request_id":"served"`) {
		t.Errorf("first event %s %s, want the served request's end", ev.Name, ev.Data)
	}
	if len(queue) != 0 {
		t.Errorf("%d more events", len(queue))
	}
}

func TestFeedRefusesOtherMethods(t *testing.T) {
	rec := httptest.NewRecorder()
	New(Options{}).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/admin/api/live", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}

// TestEventShapeGolden pins the JSON of the feed's events (the admin UI
// and scripts read it).
func TestEventShapeGolden(t *testing.T) {
	hub := New(Options{Buffer: 8, Cost: func(r llmbridge.UsageRecord) (float64, bool) {
		return float64(r.PromptTokens+r.CompletionTokens) / 1e7, true
	},
		KeyName: func(id string) string { return "team-" + id[4:6] }})
	sub := hub.Subscribe()
	defer sub.Close()
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	rec := llmbridge.UsageRecord{ID: "0197e0d0c6000123456789abcdef", Time: at, RequestID: "req_1", KeyID: "key-ab12cd34",
		Method: "POST", Path: "/v1/chat/completions", Format: "chat", Provider: "openai", Model: "openai/gpt-4o", UpstreamModel: "gpt-4o", Stream: true}
	hub.Start(rec)
	rec.Status, rec.Retries, rec.PromptTokens, rec.CompletionTokens, rec.TotalTokens = 200, 1, 900, 200, 1100
	rec.CachedTokens, rec.ReasoningTokens, rec.Duration, rec.TTFT = 512, 64, 2500*time.Millisecond, 300*time.Millisecond
	hub.End(rec)
	failed := llmbridge.UsageRecord{Time: at, RequestID: "req_2", Format: "chat", Model: "nope/x", Status: 404,
		Error: "model nope/x is not served", ErrorCode: "model_not_found", Duration: time.Millisecond}
	hub.End(failed)
	// A response-cache hit: nothing spent, the cached answer's cost saved.
	hit := llmbridge.UsageRecord{Time: at, RequestID: "req_3", Format: "chat", Provider: "openai", Model: "openai/gpt-4o", UpstreamModel: "gpt-4o",
		Status: 200, Cache: llmbridge.CacheHit, Saved: llmbridge.TokenCounts{Prompt: 900, Completion: 200, Total: 1100}}
	hub.End(hit)
	var out []byte
	var queue []sse.Event
	for range 4 {
		ev, ok := next(t, sub, &queue)
		if !ok {
			t.Fatal("fewer than 4 events")
		}
		out = append(out, "event: "+ev.Name+"\n"...)
		out = append(out, golden.IndentJSON(t, ev.Data)...)
		out = append(out, '\n')
	}
	golden.Check(t, "events.golden", out)
}

func FuzzEncodeNeverFails(f *testing.F) {
	f.Add("req", "openai", "gpt-4o", "boom\n\"x\"", 200, int64(1500))
	f.Fuzz(func(t *testing.T, rid, provider, model, errText string, status int, ns int64) {
		hub := New(Options{})
		b := hub.encode(nil, "end", llmbridge.UsageRecord{RequestID: rid, Provider: provider, UpstreamModel: model, Error: errText, Status: status, Duration: time.Duration(ns)})
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || m["type"] != "end" {
			t.Fatalf("%s: %v", b, err)
		}
	})
}
