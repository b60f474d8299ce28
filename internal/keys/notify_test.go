package keys

import (
	"context"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/pgtest"
	"github.com/llmbridge/llmbridge/internal/redistest"
	"go.uber.org/goleak"
)

// noThrottle lets within retry a refused key without being throttled.
var noThrottle = llmbridge.WithAuthThrottle(nil)

// within polls the request with secret through h until it answers want,
// failing when that takes longer than d.
func within(t *testing.T, h *harness, secret string, want int, d time.Duration, what string) {
	t.Helper()
	start := time.Now()
	for {
		rec := h.post(secret, chatBody)
		if rec.Code == want {
			t.Logf("%s: %d after %s", what, want, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > d {
			t.Fatalf("%s: still %d %s after %s, want %d", what, rec.Code, rec.Body, d, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A change made through one replica (Changed, as the admin API calls it)
// holds at once there, and on a second replica sharing the store and a
// real Redis within a second, although neither polls (Poll: an hour):
// the second hears of it over pub/sub.
func TestChangesReachOtherReplicasOverRedis(t *testing.T) {
	for name, dsn := range map[string]func(t testing.TB) string{"sqlite": sqlitePath, "postgres": pgtest.URL} {
		t.Run(name, func(t *testing.T) {
			srv := redistest.Start(t)
			path := dsn(t)
			s1, s2 := NewStore(openStore(t, path)), NewStore(openStore(t, path))
			rdb := redisClient(t, srv)
			a1 := newAdmitter(t, Options{Store: s1, Redis: redisClient(t, srv), Poll: time.Hour})
			a2 := newAdmitter(t, Options{Store: s2, Redis: redisClient(t, srv), Poll: time.Hour})
			h1, h2 := newHarness(t, a1, noThrottle), newHarness(t, a2, noThrottle)
			ctx := context.Background()
			// Both subscribe in the background; wait until they have.
			for deadline := time.Now().Add(5 * time.Second); ; {
				n, err := rdb.PubSubNumSub(ctx, "llmbridge:keys").Result()
				if err == nil && n["llmbridge:keys"] == 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the admitters did not subscribe to llmbridge:keys: %v %v", n, err)
				}
				time.Sleep(10 * time.Millisecond)
			}

			k, secret := create(t, s1, Params{Name: ptr("new")})
			if err := a1.Changed(ctx); err != nil {
				t.Fatal(err)
			}
			if rec := h1.post(secret, chatBody); rec.Code != 200 {
				t.Fatalf("created key on the replica that made it: %d %s, want 200 at once", rec.Code, rec.Body)
			}
			within(t, h2, secret, 200, time.Second, "created key on the other replica")

			if _, err := s2.Revoke(ctx, k.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := a2.Changed(ctx); err != nil {
				t.Fatal(err)
			}
			if rec := h2.post(secret, chatBody); rec.Code != 401 {
				t.Fatalf("revoked key on the replica that revoked it: %d, want 401 at once", rec.Code)
			}
			within(t, h1, secret, 401, time.Second, "revoked key on the other replica")
		})
	}
}

// Without Redis, a replica sees a change made elsewhere (another replica,
// the CLI) by polling the store, within a second at the default Poll.
func TestChangesReachOtherReplicasByPolling(t *testing.T) {
	path := sqlitePath(t)
	s1 := NewStore(openStore(t, path))
	h2 := newHarness(t, newAdmitter(t, Options{Store: NewStore(openStore(t, path))}), noThrottle)
	k, secret := create(t, s1, Params{Name: ptr("polled")})
	within(t, h2, secret, 200, time.Second, "created key seen by polling")
	if _, err := s1.Revoke(context.Background(), k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	within(t, h2, secret, 401, time.Second, "revoked key seen by polling")
}

// Close stops the subscription: no goroutine of it is left, Redis up or
// down.
func TestCloseStopsTheSubscription(t *testing.T) {
	srv := redistest.Start(t)
	s := NewStore(openStore(t, sqlitePath(t)))
	ignore := goleak.IgnoreCurrent()
	for _, down := range []bool{false, true} {
		if down {
			srv.Stop()
		}
		rdb := redisClient(t, srv)
		a, err := NewAdmitter(context.Background(), Options{Store: s, Redis: rdb})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // let it subscribe (or fail to)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		rdb.Close()
		if err := goleak.Find(ignore); err != nil {
			t.Errorf("Redis down %v: %v", down, err)
		}
	}
}
