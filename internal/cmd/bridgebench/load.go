package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// result is what one load phase measured.
type result struct {
	requests, errors int
	lost             int // streams that ended without [DONE]
	elapsed          time.Duration
	lat              []time.Duration // request latency (open loop: from the scheduled send)
	ttft             []time.Duration // streams: to the first data event
	errSamples       []string
}

func (r *result) merge(o *result) {
	r.requests += o.requests
	r.errors += o.errors
	r.lost += o.lost
	r.lat = append(r.lat, o.lat...)
	r.ttft = append(r.ttft, o.ttft...)
	if len(r.errSamples) < 5 {
		r.errSamples = append(r.errSamples, o.errSamples...)
	}
}

// collector merges the results of concurrent workers.
type collector struct {
	mu    sync.Mutex
	total result
}

func (c *collector) add(r *result) {
	c.mu.Lock()
	c.total.merge(r)
	c.mu.Unlock()
}

func (r *result) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// client is the load generator's HTTP client: one pool, large enough for
// every worker.
func newClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: 0, IdleConnTimeout: 90 * time.Second, DisableCompression: true}}
}

// workload is one API's requests: where they go and their bodies.
type workload struct {
	name      string
	path      string // appended to the target's base URL
	anthropic bool   // Messages API: x-api-key, named events, ends with message_stop
	responses bool   // Responses API: named events, ends with response.completed
	nonStream string
	stream    string
	model     string // of the held streams
}

// chatWorkload is OpenAI Chat Completions to the mock OpenAI model.
var chatWorkload = workload{
	name: "chat", path: "/v1/chat/completions", model: "mock/m",
	stream:    `{"model":"mock/m","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Write twenty words."}],"stream":true,"stream_options":{"include_usage":true}}`,
	nonStream: `{"model":"mock/m","messages":[{"role":"user","content":"Who is mentioned?"}]}`,
}

// messagesWorkload is the Anthropic Messages API to model (mock/m: the
// bridge translates to the OpenAI mock; anth/m: it passes through to the
// Anthropic mock).
func messagesWorkload(name, model string) workload {
	return workload{
		name: name, path: "/v1/messages", anthropic: true, model: model,
		stream:    `{"model":"` + model + `","max_tokens":1024,"system":"You are terse.","messages":[{"role":"user","content":"Write twenty words."}],"stream":true}`,
		nonStream: `{"model":"` + model + `","max_tokens":1024,"messages":[{"role":"user","content":"Who is mentioned?"}]}`,
	}
}

// responsesWorkload is OpenAI's Responses API to the mock OpenAI model:
// the bridge translates it to Chat Completions (the mock serves chat only).
func responsesWorkload() workload {
	return workload{
		name: "responses", path: "/v1/responses", responses: true, model: "mock/m",
		stream:    `{"model":"mock/m","instructions":"You are terse.","input":"Write twenty words.","stream":true}`,
		nonStream: `{"model":"mock/m","input":[{"role":"user","content":"Who is mentioned?"}]}`,
	}
}

// holdBody is a stream of chunks content events delayMS apart, asked of
// the mock with its marker in the message text.
func (w *workload) holdBody(chunks, delayMS int) string {
	marker := "x [bench chunks=" + strconv.Itoa(chunks) + " delay_ms=" + strconv.Itoa(delayMS) + "]"
	if w.anthropic {
		return `{"model":"` + w.model + `","max_tokens":1024,"messages":[{"role":"user","content":"` + marker + `"}],"stream":true}`
	}
	if w.responses {
		return `{"model":"` + w.model + `","input":"` + marker + `","stream":true}`
	}
	return `{"model":"` + w.model + `","messages":[{"role":"user","content":"` + marker + `"}],"stream":true}`
}

// call is one kind of request to one target.
type call struct {
	url, key, body string
	stream         bool
	anthropic      bool
	responses      bool
	unique         *atomic.Uint64 // numbers each request's prompt; nil: the body as it is
}

func (c *call) request(ctx context.Context) *http.Request {
	body := c.body
	if c.unique != nil {
		body = uniqueBody(body, c.unique.Add(1))
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if c.anthropic {
		req.Header.Set("x-api-key", c.key)
		req.Header.Set("anthropic-version", "2023-06-01")
	} else {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	return req
}

// uniqueBody makes body a request no earlier one equals (a response
// cache misses it): n goes in front of its first text, the first
// "content" string or else the "input" string.
func uniqueBody(body string, n uint64) string {
	at := -1
	for _, m := range []string{`"content":"`, `"input":"`} {
		if i := strings.Index(body, m); i >= 0 {
			at = i + len(m)
			break
		}
	}
	if at < 0 {
		return body
	}
	return body[:at] + strconv.FormatUint(n, 10) + " " + body[at:]
}

var (
	doneLine        = []byte("data: [DONE]")
	messageStopData = []byte(`"type":"message_stop"`)
	completedData   = []byte(`"type":"response.completed"`)
)

// done reports whether a stream's data line is its last: [DONE], or
// Anthropic's message_stop.
func (c *call) done(line []byte) bool {
	switch {
	case c.anthropic:
		return bytes.Contains(line, messageStopData)
	case c.responses:
		return bytes.HasPrefix(line, []byte("data: ")) && bytes.Contains(line, completedData)
	}
	return bytes.HasPrefix(line, doneLine)
}

// one sends one request and reads the whole answer. For a stream it checks
// that its end ([DONE] or message_stop) arrived.
func one(ctx context.Context, hc *http.Client, c *call, start time.Time, r *result) {
	resp, err := hc.Do(c.request(ctx))
	if err != nil {
		if ctx.Err() == nil {
			r.fail(err.Error())
		}
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		r.fail(resp.Status + " " + string(b))
		return
	}
	if !c.stream {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			r.fail(err.Error())
			return
		}
		r.requests++
		r.lat = append(r.lat, time.Since(start))
		return
	}
	br := bufio.NewReaderSize(resp.Body, 16<<10)
	first := true
	for {
		line, err := br.ReadSlice('\n')
		if bytes.HasPrefix(line, []byte("data: ")) {
			if first {
				r.ttft = append(r.ttft, time.Since(start))
				first = false
			}
			if c.done(line) {
				_, _ = io.Copy(io.Discard, br)
				r.requests++
				r.lat = append(r.lat, time.Since(start))
				return
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return // the phase ended mid-stream: not a loss
			}
			r.lost++
			r.fail("stream ended without its end event: " + errString(err))
			return
		}
	}
}

func errString(err error) string {
	if err == io.EOF {
		return "EOF"
	}
	return err.Error()
}

func (r *result) fail(msg string) {
	r.errors++
	if len(r.errSamples) < 5 {
		r.errSamples = append(r.errSamples, msg)
	}
}

// closedLoop runs workers that each send the next request as soon as the
// previous one is done, for d.
func closedLoop(hc *http.Client, c *call, workers int, d time.Duration) *result {
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	deadline := time.Now().Add(d)
	var col collector
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			r := &result{}
			for time.Now().Before(deadline) {
				one(ctx, hc, c, time.Now(), r)
			}
			col.add(r)
		})
	}
	wg.Wait()
	col.total.elapsed = time.Since(start)
	return &col.total
}

// openLoop sends rate requests per second for d regardless of how fast
// answers come, measuring each latency from its scheduled send time, so a
// slow server cannot hide its queueing (no coordinated omission).
func openLoop(hc *http.Client, c *call, rate int, d time.Duration) *result {
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	var col collector
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	n := int(d / interval)
	for i := range n {
		scheduled := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(scheduled))
		wg.Go(func() {
			r := &result{}
			one(ctx, hc, c, scheduled, r)
			col.add(r)
		})
	}
	wg.Wait()
	col.total.elapsed = time.Since(start)
	return &col.total
}

// holdStreams opens n slow streams of t's workload at once, calls during()
// while all are open, then waits for them to finish.
func holdStreams(hc *http.Client, t *target, n int, chunks, delayMS int, during func()) *result {
	c := t.call(t.w.holdBody(chunks, delayMS), true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(chunks*delayMS)*time.Millisecond+60*time.Second)
	defer cancel()
	var col collector
	var wg sync.WaitGroup
	opened := make(chan struct{}, n)
	for range n {
		wg.Go(func() {
			r := &result{}
			resp, err := hc.Do(c.request(ctx))
			opened <- struct{}{}
			if err != nil {
				r.fail(err.Error())
			} else {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				end := doneLine
				if c.anthropic {
					end = messageStopData
				}
				if resp.StatusCode == 200 && bytes.Contains(b, end) {
					r.requests++
				} else {
					r.lost++
					r.fail(fmt.Sprintf("held stream (%s) ended without its end event: %.200s", resp.Status, b))
				}
			}
			col.add(r)
		})
	}
	for range n {
		<-opened
	}
	time.Sleep(time.Duration(delayMS) * time.Millisecond * 2) // every stream past its first events
	during()
	wg.Wait()
	return &col.total
}
