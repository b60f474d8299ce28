package llmbridge_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	rcache "github.com/llmbridge/llmbridge/internal/cache/redis"
	"github.com/llmbridge/llmbridge/internal/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// cachedRequest is benchRequest with temperature 0, so it is cached.
var cachedRequest = strings.Replace(benchRequest, `"stream":true`, `"temperature":0,"stream":true`, 1)

// BenchmarkCacheHit: a repeated 22-event stream (and the same request not
// streamed) answered from the memory cache, over loopback HTTP. ns/op is
// the hit's latency as a client sees it; compare BenchmarkRelayStream
// for the same stream relayed from an upstream.
func BenchmarkCacheHit(b *testing.B) {
	benchHits(b, newMemoryCache(b))
}

// BenchmarkCacheHitRedis: BenchmarkCacheHit with the Redis backend.
func BenchmarkCacheHitRedis(b *testing.B) {
	opt, _ := goredis.ParseURL(redistest.Start(b).URL())
	rdb := goredis.NewClient(opt)
	b.Cleanup(func() { rdb.Close() })
	rc, _ := rcache.New(rcache.Options{Client: rdb})
	benchHits(b, rc)
}

func benchHits(b *testing.B, c llmbridge.Cache) {
	upstream := staticUpstream(b, "text/event-stream; charset=utf-8", stream22())
	bridge, _ := front(b, upstream, llmbridge.WithCache(c, llmbridge.CachePolicy{}))
	warm(b, bridge, cachedRequest)
	b.Run("stream", func(b *testing.B) { run(b, bridge, cachedRequest, "data: [DONE]\n\n") })
	b.Run("nonstream", func(b *testing.B) {
		run(b, bridge, strings.Replace(cachedRequest, `"stream":true`, `"stream":false`, 1), "}")
	})
	// An Anthropic client's repeat: the stored chat chunks encoded as
	// Messages events.
	b.Run("anthropic-stream", func(b *testing.B) {
		body := `{"model":"openai/gpt-4o-mini","max_tokens":100,"temperature":0,"stream":true,"messages":[{"role":"user","content":"Write twenty words."}]}`
		warmAt(b, bridge, "/v1/messages", body)
		runAt(b, bridge, "/v1/messages", body, "\n\n")
	})
}

// warm sends body twice and checks the second was a hit.
func warm(b *testing.B, srv *httptest.Server, body string) {
	warmAt(b, srv, "/v1/chat/completions", body)
}

func warmAt(b *testing.B, srv *httptest.Server, path, body string) {
	for i := range 2 {
		if i == 1 {
			time.Sleep(20 * time.Millisecond) // a stream is stored after the client saw its end
		}
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("X-Cache"); i == 1 && got != "HIT" {
			b.Fatalf("warming %s: X-Cache %q", path, got)
		}
	}
}

// runAt is run for another path, checking every answer is a hit.
func runAt(b *testing.B, srv *httptest.Server, path, body, wantSuffix string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer k")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Cache") != "HIT" || !bytes.HasSuffix(got, []byte(wantSuffix)) {
			b.Fatalf("status %d X-Cache %q body %q", resp.StatusCode, resp.Header.Get("X-Cache"), got)
		}
	}
}

// BenchmarkCacheMiss: the overhead of the cache on requests that miss
// (each one new), with the cache off, on (memory) and on but bypassed
// (temperature absent). "on" includes keying, the lookup, recording the
// pass-through stream, decoding it and storing it.
func BenchmarkCacheMiss(b *testing.B) {
	upstream := staticUpstream(b, "text/event-stream; charset=utf-8", stream22())
	off, _ := front(b, upstream)
	on, _ := front(b, upstream, llmbridge.WithCache(newMemoryCache(b), llmbridge.CachePolicy{}))
	b.Run("off", func(b *testing.B) { runUnique(b, off, cachedRequest, "data: [DONE]\n\n") })
	b.Run("on", func(b *testing.B) { runUnique(b, on, cachedRequest, "data: [DONE]\n\n") })
	b.Run("on-bypass", func(b *testing.B) { runUnique(b, on, benchRequest, "data: [DONE]\n\n") })
	// The same requests not streamed: the answer is one JSON body.
	jsonUpstream := staticUpstream(b, "application/json", []byte(nonStreamBody))
	offJSON, _ := front(b, jsonUpstream)
	onJSON, _ := front(b, jsonUpstream, llmbridge.WithCache(newMemoryCache(b), llmbridge.CachePolicy{}))
	nonStream := strings.Replace(cachedRequest, `"stream":true`, `"stream":false`, 1)
	b.Run("off-nonstream", func(b *testing.B) { runUnique(b, offJSON, nonStream, "}") })
	b.Run("on-nonstream", func(b *testing.B) { runUnique(b, onJSON, nonStream, "}") })
}

// runUnique is run with a new prompt for every request.
func runUnique(b *testing.B, srv *httptest.Server, body, wantSuffix string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	run := time.Now().UnixNano() // a new prompt in every run, too
	i := 0
	for b.Loop() {
		i++
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(strings.Replace(body, "Write twenty words.", fmt.Sprintf("Write twenty words, %d-%d.", run, i), 1)))
		req.Header.Set("Authorization", "Bearer k")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.HasSuffix(bytes.TrimSpace(got), []byte(strings.TrimSpace(wantSuffix))) || resp.Header.Get("X-Cache") == "HIT" {
			b.Fatalf("status %d X-Cache %q body %q", resp.StatusCode, resp.Header.Get("X-Cache"), got)
		}
	}
}
