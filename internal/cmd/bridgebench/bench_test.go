package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBenchOverride(t *testing.T) {
	for _, tc := range []struct {
		body   string
		chunks int
		delay  time.Duration
	}{
		{`{"messages":[{"content":"x [bench chunks=7 delay_ms=30]"}]}`, 7, 30 * time.Millisecond},
		{`{"messages":[{"content":"no marker"}]}`, 20, 0},
		{`{"messages":[{"content":"x [bench chunks=oops]"}]}`, 20, 0},
		{`[bench chunks=0 delay_ms=0]`, 0, 0},
		{`[bench `, 20, 0},
	} {
		p := upstreamParams{Chunks: 20}
		benchOverride([]byte(tc.body), &p)
		if p.Chunks != tc.chunks || p.ChunkDelay != tc.delay {
			t.Errorf("%s: chunks %d delay %v, want %d %v", tc.body, p.Chunks, p.ChunkDelay, tc.chunks, tc.delay)
		}
	}
}

func FuzzBenchOverride(f *testing.F) {
	f.Add([]byte(`x [bench chunks=7 delay_ms=30]`))
	f.Add([]byte(`[bench chunks=-1 delay_ms=99999999999999999999]`))
	f.Add([]byte(`[bench `))
	f.Fuzz(func(t *testing.T, body []byte) {
		p := upstreamParams{Chunks: 20}
		benchOverride(body, &p)
		if !bytes.Contains(body, benchMarker) && (p.Chunks != 20 || p.ChunkDelay != 0) {
			t.Fatalf("parameters changed without the marker: %+v", p)
		}
	})
}

// TestMockWorkloads drives the mock upstream with each workload's
// requests as the load phases do, and checks that streams are read to
// their end event with the number of content events asked for.
func TestMockWorkloads(t *testing.T) {
	srv := httptest.NewServer(mockUpstream(upstreamParams{Chunks: 20}))
	defer srv.Close()
	hc := srv.Client()
	for _, w := range []workload{chatWorkload, messagesWorkload("messages-native", anthropicProvider+"/m")} {
		tg := &target{name: "direct", base: srv.URL, key: benchKey, w: w}
		sendBoth(t, hc, tg)
		resp, err := hc.Do(tg.call(w.holdBody(3, 1), true).request(context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		chunk := openaiWire.chunk
		if w.anthropic {
			chunk = anthropicWire.chunk
		}
		if n := bytes.Count(b, chunk); n != 3 {
			t.Errorf("%s: held stream has %d content events, want 3:\n%s", w.name, n, b)
		}
		c := tg.call(w.stream, true)
		last := b[bytes.LastIndex(b[:len(b)-2], []byte("\n\n"))+2:]
		if !c.done([]byte(strings.TrimPrefix(string(last), "event: message_stop\n"))) {
			t.Errorf("%s: the last event %q is not taken for the end", w.name, last)
		}
	}
}

// TestStreamCutIsLost checks that a stream ending without its end event
// counts as lost, for both wire formats.
func TestStreamCutIsLost(t *testing.T) {
	for _, w := range []workload{chatWorkload, messagesWorkload("messages", "mock/m")} {
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", "text/event-stream")
			wire := openaiWire
			if w.anthropic {
				wire = anthropicWire
			}
			rw.Write(wire.head[0])
			rw.Write(wire.chunk)
		}))
		r := &result{}
		tg := &target{base: srv.URL, key: benchKey, w: w}
		one(context.Background(), srv.Client(), tg.call(w.stream, true), time.Now(), r)
		srv.Close()
		if r.lost != 1 || r.requests != 0 {
			t.Errorf("%s: cut stream gave %+v, want one lost", w.name, r)
		}
	}
}

// TestShippedServerAnswers: the "server" target builds the standalone
// server and runs it as shipped in front of the mock; a chat request, a
// stream and a Messages pass-through each come back whole through it, so
// a renamed setting or config key fails here rather than in a bench run.
func TestShippedServerAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server")
	}
	up := httptest.NewServer(mockUpstream(upstreamParams{Chunks: 5}))
	defer up.Close()
	c, store, err := startShipped(t.TempDir(), up.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	if !strings.HasSuffix(store, ".db") {
		t.Errorf("usage store %q", store)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	for _, w := range []workload{chatWorkload, messagesWorkload("messages-native", anthropicProvider+"/m")} {
		sendBoth(t, hc, &target{name: "server", base: c.url, key: benchKey, w: w})
	}
	hc.CloseIdleConnections()
}

// sendBoth sends tg its workload's request and stream once each and
// checks that both came back whole, the stream's first event timed.
func sendBoth(t *testing.T, hc *http.Client, tg *target) {
	t.Helper()
	for _, stream := range []bool{false, true} {
		body := tg.w.nonStream
		if stream {
			body = tg.w.stream
		}
		r := &result{}
		one(context.Background(), hc, tg.call(body, stream), time.Now(), r)
		if r.requests != 1 || r.errors != 0 || r.lost != 0 {
			t.Errorf("%s stream=%v: %+v", tg.w.name, stream, r)
		}
		if stream && len(r.ttft) != 1 {
			t.Errorf("%s: time to first event not measured", tg.w.name)
		}
	}
}

// TestStagePairs holds -pair-stages' report to its pairs: the medians of
// each round's ratio and CPU difference, not of the two sides' medians.
func TestStagePairs(t *testing.T) {
	s := func(rps, sps float64, cpuReq, cpuStrm time.Duration) sample {
		return sample{
			nonStream:    &result{requests: int(rps), elapsed: time.Second},
			stream:       &result{requests: int(sps), elapsed: time.Second},
			cpuNonStream: cpuReq * time.Microsecond, cpuStream: cpuStrm * time.Microsecond,
		}
	}
	// The host slows down in round 2: both sides of that round pay.
	vs := []sample{s(900, 500, 54, 103), s(600, 300, 90, 150), s(1000, 480, 52, 98)}
	bs := []sample{s(1000, 500, 50, 100), s(700, 300, 80, 140), s(1000, 500, 50, 100)}
	var out strings.Builder
	reportStagePairs(&out, "bridge-limits", "limits", vs, bs)
	want := "  bridge-limits  req/s  0.90× [0.86–1.00]  streams/s  1.00× [0.96–1.00]  cpu/req +4µs [+2µs – +10µs]  cpu/strm +3µs [-2µs – +10µs]  [limits]\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}
