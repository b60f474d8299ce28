package llmbridge_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	rcache "github.com/llmbridge/llmbridge/internal/cache/redis"
	"github.com/llmbridge/llmbridge/internal/redistest"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	goredis "github.com/redis/go-redis/v9"
)

// redisBridges starts n bridges, as n replicas, in front of one fake
// OpenAI upstream and sharing one Redis cache.
func redisBridges(t *testing.T, srv *redistest.Server, n int) (*testupstream.Server, []*openai.Client) {
	t.Helper()
	up := testupstream.New(t, testupstream.OpenAI)
	var clients []*openai.Client
	for range n {
		opt, _ := goredis.ParseURL(srv.URL())
		opt.MaxRetries = 0
		rdb := goredis.NewClient(opt)
		rc, err := rcache.New(rcache.Options{Client: rdb})
		if err != nil {
			t.Fatal(err)
		}
		b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})),
			llmbridge.WithAccessKeys(accessKey), llmbridge.WithCache(rc, llmbridge.CachePolicy{}))
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(b)
		t.Cleanup(func() { hs.Close(); b.Close(); rdb.Close() })
		c := openai.NewClient(option.WithBaseURL(hs.URL+"/v1"), option.WithAPIKey(accessKey), option.WithMaxRetries(0))
		clients = append(clients, &c)
	}
	return up, clients
}

func TestCacheSharedThroughRedis(t *testing.T) {
	srv := redistest.Start(t)
	up, cs := redisBridges(t, srv, 2)
	p := cacheParams("openai/gpt-4o", "shared by replicas")
	first, h := ask(t, cs[0], p)
	if h.Get("X-Cache") != "MISS" {
		t.Fatalf("replica 1: X-Cache %q", h.Get("X-Cache"))
	}
	second, h := ask(t, cs[1], p)
	if h.Get("X-Cache") != "HIT" {
		t.Fatalf("replica 2: X-Cache %q", h.Get("X-Cache"))
	}
	sameAnswer(t, "replica 2", first, second)
	// And a stream from replica 2 of what replica 1 stored.
	p.StreamOptions.IncludeUsage = openai.Bool(true)
	acc, h := streamed(t, cs[1], p)
	if h.Get("X-Cache") != "HIT" {
		t.Fatalf("replica 2 stream: X-Cache %q", h.Get("X-Cache"))
	}
	sameAnswer(t, "replica 2 stream", first, &acc.ChatCompletion)
	if n := len(up.Requests()); n != 1 {
		t.Errorf("upstream called %d times, want 1", n)
	}
}

func TestCacheRedisKilledMidTest(t *testing.T) {
	srv := redistest.Start(t)
	up, cs := redisBridges(t, srv, 1)
	p := cacheParams("openai/gpt-4o", "while Redis dies")
	ask(t, cs[0], p)
	if _, h := ask(t, cs[0], p); h.Get("X-Cache") != "HIT" {
		t.Fatalf("before the kill: X-Cache %q", h.Get("X-Cache"))
	}
	srv.Stop()
	before := len(up.Requests())
	for i := range 20 {
		start := time.Now()
		resp, h := ask(t, cs[0], p)
		if h.Get("X-Cache") != "MISS" || resp.Choices[0].Message.Content != "Hello world" {
			t.Fatalf("request %d with Redis down: X-Cache %q, %q", i, h.Get("X-Cache"), resp.Choices[0].Message.Content)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("request %d with Redis down took %v", i, d)
		}
	}
	if n := len(up.Requests()) - before; n != 20 {
		t.Errorf("with Redis down the upstream answered %d of 20", n)
	}
	srv.Restart()
	time.Sleep(1100 * time.Millisecond) // the backend leaves Redis alone for a second after a failure
	ask(t, cs[0], p)
	if _, h := ask(t, cs[0], p); h.Get("X-Cache") != "HIT" {
		t.Errorf("after Redis came back: X-Cache %q", h.Get("X-Cache"))
	}
}
