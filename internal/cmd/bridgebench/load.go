package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
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

const (
	streamBody    = `{"model":"mock/m","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Write twenty words."}],"stream":true,"stream_options":{"include_usage":true}}`
	nonStreamBody = `{"model":"mock/m","messages":[{"role":"user","content":"Who is mentioned?"}]}`
)

// one sends one request and reads the whole answer. For a stream it checks
// that [DONE] arrived.
func one(ctx context.Context, c *http.Client, url, body string, stream bool, start time.Time, r *result) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+benchKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
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
	if !stream {
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
			if bytes.HasPrefix(line, []byte("data: [DONE]")) {
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
			r.fail("stream ended without [DONE]: " + errString(err))
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
func closedLoop(c *http.Client, url, body string, stream bool, workers int, d time.Duration) *result {
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
				one(ctx, c, url, body, stream, time.Now(), r)
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
func openLoop(c *http.Client, url, body string, stream bool, rate int, d time.Duration) *result {
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
			one(ctx, c, url, body, stream, scheduled, r)
			col.add(r)
		})
	}
	wg.Wait()
	col.total.elapsed = time.Since(start)
	return &col.total
}

// holdStreams opens n slow streams at once, calls during() while all are
// open, then waits for them to finish.
func holdStreams(c *http.Client, url string, n int, chunks, delayMS int, during func()) *result {
	body := `{"model":"mock/m","messages":[{"role":"user","content":"x"}],"stream":true,"bench":{"chunks":` + strconv.Itoa(chunks) + `,"delay_ms":` + strconv.Itoa(delayMS) + `}}`
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(chunks*delayMS)*time.Millisecond+60*time.Second)
	defer cancel()
	var col collector
	var wg sync.WaitGroup
	opened := make(chan struct{}, n)
	for range n {
		wg.Go(func() {
			r := &result{}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+benchKey)
			resp, err := c.Do(req)
			opened <- struct{}{}
			if err != nil {
				r.fail(err.Error())
			} else {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if bytes.Contains(b, []byte("data: [DONE]")) {
					r.requests++
				} else {
					r.lost++
					r.fail("held stream ended without [DONE]")
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
