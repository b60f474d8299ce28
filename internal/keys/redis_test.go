package keys

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func redisClient(t testing.TB, srv *redistest.Server) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 200*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	opt.MaxRetries = -1
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// sharedOnRedis is a Redis limiter on a throwaway redis-server, with
// leases of leaseTTL; worker says whether its settle worker runs (else
// the test plays it: settlements wait in the queue). It is closed with
// the test.
func sharedOnRedis(tb testing.TB, leaseTTL time.Duration, worker bool) (*shared, *redis.Client) {
	tb.Helper()
	rdb := redisClient(tb, redistest.Start(tb))
	sh := newShared(rdb, "t:", 1, leaseTTL, slog.New(slog.DiscardHandler))
	if !worker {
		sh.close()
	}
	tb.Cleanup(func() {
		select {
		case <-sh.stop: // closed by the test
		default:
			sh.close()
		}
	})
	return sh, rdb
}

// Two replicas sharing one real Redis admit no more than the limit
// (at most 5% over) between them.
func TestTwoInstancesShareRedis(t *testing.T) {
	srv := redistest.Start(t)
	s := NewStore(openStore(t, sqlitePath(t)))
	_, secret := create(t, s, Params{Name: ptr("shared"), RPM: ptr[int64](100)})
	h1 := newHarness(t, newAdmitter(t, Options{Store: s, Redis: redisClient(t, srv), Replicas: 2}))
	h2 := newHarness(t, newAdmitter(t, Options{Store: s, Redis: redisClient(t, srv), Replicas: 2}))
	var ok, refused, other atomic.Int64
	var wg sync.WaitGroup
	for i := range 600 {
		h := h1
		if i%2 == 1 {
			h = h2
		}
		wg.Go(func() {
			rec := h.post(secret, chatBody)
			switch {
			case rec.Code == 200:
				ok.Add(1)
			case rec.Code == 429 && strings.Contains(rec.Body.String(), "rate_limit_exceeded"):
				refused.Add(1)
			default:
				other.Add(1)
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
			if rec.Header().Get("X-Ratelimit-Limit-Requests") != "100" {
				t.Errorf("no rate-limit headers: %v", rec.Header())
			}
		})
	}
	wg.Wait()
	t.Logf("admitted %d, refused %d", ok.Load(), refused.Load())
	if ok.Load() > 105 || ok.Load() < 100 || other.Load() != 0 {
		t.Fatalf("admitted %d of 600 against RPM=100 (want 100 to 105), %d other answers", ok.Load(), other.Load())
	}
}

// A budget spent through one replica is seen by the other through Redis.
func TestBudgetSharedThroughRedis(t *testing.T) {
	srv := redistest.Start(t)
	s := NewStore(openStore(t, sqlitePath(t)))
	_, secret := create(t, s, Params{Name: ptr("b"), DailyBudgetUSD: ptr(0.00004)})
	h1 := newHarness(t, newAdmitter(t, Options{Store: s, Redis: redisClient(t, srv)}))
	h2 := newHarness(t, newAdmitter(t, Options{Store: s, Redis: redisClient(t, srv)}))
	if rec := h1.post(secret, chatBody); rec.Code != 200 {
		t.Fatalf("first: %d %s", rec.Code, rec.Body)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		rec := h2.post(secret, chatBody)
		if rec.Code == 429 && strings.Contains(rec.Body.String(), "budget_exceeded") {
			break
		}
		if rec.Code != 200 || time.Now().After(deadline) {
			t.Fatalf("the other replica: %d %s", rec.Code, rec.Body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Redis killed mid-test: requests keep flowing with per-instance limits
// (RPM / replicas), and the limits return to Redis when it is back.
func TestRedisDownFallsBackAndRecovers(t *testing.T) {
	srv := redistest.Start(t)
	s := NewStore(openStore(t, sqlitePath(t)))
	_, secret := create(t, s, Params{Name: ptr("f"), RPM: ptr[int64](10), MaxParallel: ptr[int64](4)})
	a := newAdmitter(t, Options{Store: s, Redis: redisClient(t, srv), Replicas: 2})
	h := newHarness(t, a)
	count := func(n int) (ok int) {
		for range n {
			switch rec := h.post(secret, chatBody); rec.Code {
			case 200:
				ok++
			case 429:
			default:
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
		return ok
	}
	if got := count(3); got != 3 {
		t.Fatalf("with Redis: %d of 3", got)
	}
	srv.Stop()
	if got := count(12); got != 5 {
		t.Errorf("Redis down: %d admitted, want 5 (RPM 10 / 2 replicas)", got)
	}
	if mode, why := a.Status(); mode != "per-instance" || !strings.Contains(why, "Redis unreachable") {
		t.Errorf("status while down: %q %q", mode, why)
	}
	srv.Restart() // empty: the window starts again
	deadline := time.Now().Add(5 * time.Second)
	for mode, _ := a.Status(); mode != "redis"; mode, _ = a.Status() {
		if time.Now().After(deadline) {
			t.Fatal("did not return to Redis within 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := count(12); got != 10 {
		t.Errorf("Redis back: %d admitted, want the shared 10", got)
	}
}

// A request that ended is not counted in flight by this replica's next
// reservation, however far the settle worker lags behind: a client whose
// requests follow one another is never refused for parallel requests.
// (The worker lagged by four requests under load, and the 429s made
// TestRedisDownFallsBackAndRecovers flaky.)
func TestRedisEndedLeaseFreedByNextReservation(t *testing.T) {
	sh, _ := sharedOnRedis(t, time.Minute, false) // no worker: every settle waits in the queue, as behind a worker that lags
	ctx, now := context.Background(), time.Now()
	lim := Limits{MaxParallel: 2}
	a, b := sh.reserve(ctx, "k", lim, 1, now), sh.reserve(ctx, "k", lim, 1, now)
	if !a.ok || !b.ok {
		t.Fatalf("two in flight: %+v %+v", a, b)
	}
	if d := sh.reserve(ctx, "k", lim, 1, now); d.ok || d.reason != reasonParallel {
		t.Fatalf("a third in flight: %+v", d)
	}
	sh.settle("k", a, 1, 0, now)
	if d := sh.reserve(ctx, "k", lim, 1, now); !d.ok {
		t.Fatalf("after one ended: %+v", d)
	}
	// b and the last are in flight: their leases are not freed.
	if d := sh.reserve(ctx, "k", lim, 1, now); d.ok || d.reason != reasonParallel {
		t.Fatalf("a third in flight after the free: %+v", d)
	}
	if n := sh.ended.n.Load(); n != 0 {
		t.Errorf("%d ended leases kept after the reservation freed them", n)
	}

	// A key and its team: the pair's lease is freed in both.
	kl, tl := Limits{MaxParallel: 1}, Limits{MaxParallel: 1}
	kd, td := sh.reservePair(ctx, "k2", kl, "tm", tl, 1, now)
	if !kd.ok || !td.ok {
		t.Fatalf("pair: %+v %+v", kd, td)
	}
	sh.settle("k2", kd, 1, 0, now)
	sh.settle("tm", td, 1, 0, now)
	if kd, td = sh.reservePair(ctx, "k2", kl, "tm", tl, 1, now); !kd.ok || !td.ok {
		t.Fatalf("pair after its request ended: %+v %+v", kd, td)
	}
	if kd, td = sh.reservePair(ctx, "k3", kl, "tm", tl, 1, now); kd.ok || td.reason != reasonParallel {
		t.Fatalf("another key of the team while one is in flight: %+v %+v", kd, td)
	}
}

// A request that ended while Redis was away does not hold its slot for
// the lease's TTL once Redis is back: its lease, which the settle worker
// could not free, is freed by the next reservation.
func TestRedisLeaseEndedWhileDownFreedOnReturn(t *testing.T) {
	sh, _ := sharedOnRedis(t, time.Hour, false) // the test plays the worker
	ctx, now := context.Background(), time.Now()
	lim := Limits{MaxParallel: 1}
	a := sh.reserve(ctx, "k", lim, 1, now)
	if !a.ok {
		t.Fatalf("first: %+v", a)
	}
	sh.settle("k", a, 1, 0, now)
	sh.down.Store(true) // Redis away as the worker sends the settlement
	sh.send(<-sh.settles)
	sh.down.Store(false) // back, with its data
	if d := sh.reserve(ctx, "k", lim, 1, now); !d.ok {
		t.Fatalf("after Redis returned: %+v (the ended request still holds its slot)", d)
	}
}

// Leases of requests in flight are shared, and freed at Settle.
func TestRedisMaxParallelAndTokens(t *testing.T) {
	sh, _ := sharedOnRedis(t, time.Minute, true)
	ctx := context.Background()
	now := time.Now()
	lim := Limits{MaxParallel: 1, TPM: 100}
	d := sh.reserve(ctx, "k", lim, 90, now)
	if !d.ok || d.remTok != 10 || d.lease == "" {
		t.Fatalf("first: %+v", d)
	}
	if d2 := sh.reserve(ctx, "k", lim, 1, now); d2.ok || d2.reason != reasonParallel {
		t.Fatalf("second in flight: %+v", d2)
	}
	sh.settle("k", d, 20, 0, now)
	deadline := time.Now().Add(2 * time.Second)
	for {
		d3 := sh.reserve(ctx, "k", lim, 50, now)
		if d3.ok {
			if d3.remTok != 30 {
				t.Errorf("tokens not corrected: %+v", d3)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease not freed: %+v", d3)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fillWindows gives a subject's request and token windows (keys[0],
// keys[1]) a bucket of 1 in each of the last 60 seconds, with their sum
// and oldest second (admitLib).
func fillWindows(tb testing.TB, rdb *redis.Client, keys []string) {
	tb.Helper()
	ctx := context.Background()
	now, err := rdb.Time(ctx).Result()
	if err != nil {
		tb.Fatal(err)
	}
	for _, k := range keys[:2] {
		for s := now.Unix() - 59; s <= now.Unix(); s++ {
			if err := rdb.HSet(ctx, k, strconv.FormatInt(s, 10), 1).Err(); err != nil {
				tb.Fatal(err)
			}
		}
		if err := rdb.HSet(ctx, k, "sum", 60, "lo", now.Unix()-59).Err(); err != nil {
			tb.Fatal(err)
		}
		rdb.PExpire(ctx, k, time.Minute)
	}
}

// A window's running sum follows the buckets: buckets that left the
// window (60 s old and more) are dropped and uncounted when the oldest
// one leaves, a bucket from a clock that went back is dropped, the reset
// and a refused client's wait come from the oldest counted bucket, and a
// settlement's correction moves the sum with its bucket, and the oldest
// second with it when that bucket reaches or leaves 0.
func TestRedisWindowSlides(t *testing.T) {
	sh, rdb := sharedOnRedis(t, time.Minute, true)
	ctx := context.Background()
	// Start early in a second of Redis's clock, so that the scripts below
	// all run in that second T (the test takes milliseconds).
	var tm time.Time
	for {
		var err error
		if tm, err = rdb.Time(ctx).Result(); err != nil {
			t.Fatal(err)
		}
		if tm.Nanosecond() < 300e6 {
			break
		}
		time.Sleep(time.Duration(1e9-tm.Nanosecond()) + time.Millisecond)
	}
	T := tm.Unix()
	w := sh.keys("k", tm)[0]
	sec := func(d int64) string { return strconv.FormatInt(T+d, 10) }
	// wantMS is a reset or wait until bucket T+d leaves the window: at
	// most a second of T has passed.
	wantMS := func(what string, got time.Duration, d int64) {
		t.Helper()
		want := time.Duration(d+60) * time.Second
		if got > want || got < want-time.Second {
			t.Errorf("%s %v, want %v less what has passed of second T", what, got, want)
		}
	}
	// As a busy key leaves it: the sum still counts the buckets 70 and 60
	// s old.
	rdb.HSet(ctx, w, sec(-70), 5, sec(-60), 4, sec(-59), 3, sec(-10), 2, "sum", 14, "lo", T-70)
	d := sh.reserve(ctx, "k", Limits{RPM: 10}, 1, time.Now())
	if !d.ok || d.remReq != 4 {
		t.Fatalf("reserve: %+v, want ok with 4 left (5 counted + this one)", d)
	}
	wantMS("reset", d.resetReq, -59)
	if v, _ := rdb.HMGet(ctx, w, "sum", "lo", sec(-70), sec(-60)).Result(); v[0] != "6" || v[1] != sec(-59) || v[2] != nil || v[3] != nil {
		t.Fatalf("window after the slide: sum, lo, old buckets = %v", v)
	}
	d = sh.reserve(ctx, "k", Limits{RPM: 3}, 1, time.Now())
	if d.ok || d.reason != reasonRequests {
		t.Fatalf("over the limit: %+v", d)
	}
	wantMS("retry", d.retry, -10) // 6 counted: the bucket 59 s old frees 3, the one 10 s old 2 more

	// Tokens: a settlement's correction moves the sum with its bucket.
	d = sh.reserve(ctx, "k", Limits{TPM: 1000}, 400, time.Now())
	if !d.ok {
		t.Fatalf("tokens: %+v", d)
	}
	sh.send(settleJob{id: "k", d: d, used: 100, now: time.Now()})
	if d = sh.reserve(ctx, "k", Limits{TPM: 1000}, 400, time.Now()); !d.ok || d.remTok != 500 {
		t.Fatalf("after a correction of -300: %+v, want 500 tokens left", d)
	}

	// A bucket at 0 that a settlement raises becomes the oldest counted;
	// the oldest that falls to 0 hands over to the next above 0.
	tw := sh.keys("k3", tm)[1]
	rdb.HSet(ctx, tw, sec(-20), 0, sec(-15), 0, sec(-5), 10, "sum", 10, "lo", T-5)
	sh.send(settleJob{id: "k3", d: decision{ok: true, sec: T - 20}, used: 50, now: time.Now()})
	if v, _ := rdb.HMGet(ctx, tw, "sum", "lo").Result(); v[0] != "60" || v[1] != sec(-20) {
		t.Fatalf("after raising a bucket at 0: sum, lo = %v, want 60 and %s", v, sec(-20))
	}
	sh.send(settleJob{id: "k3", d: decision{ok: true, sec: T - 20, est: 50}, used: 0, now: time.Now()})
	if v, _ := rdb.HMGet(ctx, tw, "sum", "lo").Result(); v[0] != "10" || v[1] != sec(-5) {
		t.Fatalf("after the oldest bucket fell to 0: sum, lo = %v, want 10 and %s", v, sec(-5))
	}
	if d = sh.reserve(ctx, "k3", Limits{TPM: 100}, 1, time.Now()); !d.ok {
		t.Fatalf("k3: %+v", d)
	}
	wantMS("token reset", d.resetTok, -5)

	// The oldest bucket is 60 s old: out.
	w4 := sh.keys("k4", tm)[0]
	rdb.HSet(ctx, w4, sec(-60), 4, sec(-10), 2, "sum", 6, "lo", T-60)
	if d = sh.reserve(ctx, "k4", Limits{RPM: 10}, 1, time.Now()); !d.ok || d.remReq != 7 {
		t.Fatalf("with the oldest bucket 60 s old: %+v, want 7 left", d)
	}

	// Redis's clock went back: a bucket from the future is dropped.
	w2 := sh.keys("k2", tm)[0]
	rdb.HSet(ctx, w2, sec(100), 7, "sum", 7, "lo", T+100)
	if d = sh.reserve(ctx, "k2", Limits{RPM: 10}, 1, time.Now()); !d.ok || d.remReq != 9 {
		t.Fatalf("after the clock went back: %+v, want 9 left", d)
	}
	if now, _ := rdb.Time(ctx).Result(); now.Unix() != T {
		t.Skipf("the test took past second T (%v): its bounds do not hold", now.Sub(tm))
	}
}

// A request's cost counts against the budget at the next reservation
// through the same replica, before the settle worker has added it to
// Redis: a client whose requests follow one another does not pass its
// budget by the requests the worker lags behind.
func TestRedisUnsentSpendCounts(t *testing.T) {
	sh, _ := sharedOnRedis(t, time.Minute, false) // the test plays the worker
	ctx, now := context.Background(), time.Now()
	for _, lim := range []Limits{{DailyBudgetUSD: 0.05}, {MonthlyBudgetUSD: 0.05}} {
		id := fmt.Sprintf("k%v", lim.DailyBudgetUSD)
		want := reasonDaily
		if lim.DailyBudgetUSD == 0 {
			want = reasonMonthly
		}
		d := sh.reserve(ctx, id, lim, 1, now)
		if !d.ok {
			t.Fatalf("first: %+v", d)
		}
		sh.settle(id, d, 1, 0.03, now)
		if d = sh.reserve(ctx, id, lim, 1, now); !d.ok {
			t.Fatalf("0.03 of 0.05 spent: %+v", d)
		}
		sh.settle(id, d, 1, 0.03, now)
		if d = sh.reserve(ctx, id, lim, 1, now); d.ok || d.reason != want {
			t.Fatalf("0.06 of 0.05 spent, none of it in Redis yet: %+v, want %s", d, want)
		}
		sh.send(<-sh.settles)
		sh.send(<-sh.settles)
		if n := sh.unsent.n.Load(); n != 0 {
			t.Fatalf("%d unsent costs left after the worker sent them", n)
		}
		if d = sh.reserve(ctx, id, lim, 1, now); d.ok || d.reason != want {
			t.Fatalf("0.06 of 0.05 spent, all in Redis: %+v, want %s", d, want)
		}
	}
	// A team's budget, reserved with its key in one script run.
	kd, td := sh.reservePair(ctx, "k2", Limits{}, "tm", Limits{DailyBudgetUSD: 0.01}, 1, now)
	if !kd.ok || !td.ok {
		t.Fatalf("pair: %+v %+v", kd, td)
	}
	sh.settle("tm", td, 1, 0.01, now)
	if kd, td = sh.reservePair(ctx, "k3", Limits{}, "tm", Limits{DailyBudgetUSD: 0.01}, 1, now); kd.ok || td.reason != reasonDaily {
		t.Fatalf("another key of the team after the team's budget was spent: %+v %+v", kd, td)
	}

	// Yesterday's unsent cost counts in the month, not in today's budget
	// (days and months are the requests' UTC dates: the 15th, then the
	// 16th, of one month).
	day1 := time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	for _, two := range []bool{false, true} {
		id := fmt.Sprintf("d%v", two)
		lim := Limits{DailyBudgetUSD: 0.05, MonthlyBudgetUSD: 0.05}
		reserve := func(at time.Time) decision {
			if two { // the pair's script
				_, td := sh.reservePair(ctx, id+"-key", Limits{}, id, lim, 1, at)
				return td
			}
			return sh.reserve(ctx, id, lim, 1, at)
		}
		if d := reserve(day1); !d.ok {
			t.Fatalf("%s: first: %+v", id, d)
		}
		sh.settle(id, decision{}, 0, 0.03, day1)
		sh.settle(id, decision{}, 0, 0.03, day1)
		if d := reserve(day2); d.ok || d.reason != reasonMonthly {
			t.Fatalf("%s: the next day with 0.06 of the month's 0.05 unsent: %+v, want %s", id, d, reasonMonthly)
		}
		if d := reserve(day2.AddDate(0, 1, 0)); !d.ok {
			t.Fatalf("%s: the next month: %+v", id, d)
		}
	}
}

// Settlements waiting in the queue go to Redis in one pipelined round
// trip, each applied once; after Redis lost its scripts (a restart),
// they are still applied.
func TestRedisSettlementsBatched(t *testing.T) {
	sh, rdb := sharedOnRedis(t, time.Minute, false) // the test plays the worker
	ctx, now := context.Background(), time.Now()
	lim := Limits{TPM: 1 << 40, MaxParallel: 100, DailyBudgetUSD: 100}
	for _, flush := range []bool{false, true} {
		id := fmt.Sprintf("k%v", flush)
		for range 10 {
			d := sh.reserve(ctx, id, lim, 100, now)
			if !d.ok {
				t.Fatalf("reserve: %+v", d)
			}
			sh.settle(id, d, 30, 0.5, now)
		}
		if flush {
			if err := rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		} else if err := settleScript.Load(ctx, rdb).Err(); err != nil {
			t.Fatal(err)
		}
		batch := make([]settleJob, 0, 10)
		for len(sh.settles) > 0 {
			batch = append(batch, <-sh.settles)
		}
		if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		sh.sendBatch(batch)
		if !flush { // one transaction of ten scripts, none failing
			stats := map[string]string{}
			for k, v := range redisInfo(t, rdb, "commandstats") {
				stats[k] = v
			}
			if !strings.HasPrefix(stats["cmdstat_evalsha"], "calls=10,") || !strings.Contains(stats["cmdstat_evalsha"], "failed_calls=0") ||
				!strings.HasPrefix(stats["cmdstat_exec"], "calls=1,") {
				t.Errorf("commands: evalsha %q, exec %q; want 10 scripts in one transaction", stats["cmdstat_evalsha"], stats["cmdstat_exec"])
			}
		}
		k := sh.keys(id, now)
		if n, _ := rdb.ZCard(ctx, k[2]).Result(); n != 0 {
			t.Errorf("%s: %d leases left in Redis after the batch", id, n)
		}
		if v, _ := rdb.HGet(ctx, k[1], "sum").Result(); v != "300" {
			t.Errorf("%s: tokens counted %s, want 300 (10 requests of 30)", id, v)
		}
		if v, _ := rdb.Get(ctx, k[3]).Result(); v != "5" {
			t.Errorf("%s: day's spend %s, want 5", id, v)
		}
		if sh.ended.n.Load() != 0 || sh.unsent.n.Load() != 0 {
			t.Errorf("%s: %d ended leases, %d unsent costs kept", id, sh.ended.n.Load(), sh.unsent.n.Load())
		}
	}
}

// The settle worker sends what waits in its queue together, every job
// once; and a settlement whose reply is late (Redis busy past the
// client's read timeout) is not sent again: the production client
// retries commands, which would have charged the costs twice.
func TestRedisSettleWorker(t *testing.T) {
	ctx, now := context.Background(), time.Now()
	lim := Limits{TPM: 1 << 40, MaxParallel: 100, DailyBudgetUSD: 100}
	t.Run("queue", func(t *testing.T) {
		sh, rdb := sharedOnRedis(t, time.Minute, true)
		for range 50 {
			d := sh.reserve(ctx, "k", lim, 100, now)
			if !d.ok {
				t.Fatalf("reserve: %+v", d)
			}
			sh.settle("k", d, 30, 0.5, now)
		}
		sh.close() // the worker sends the rest and ends
		k := sh.keys("k", now)
		if n, _ := rdb.ZCard(ctx, k[2]).Result(); n != 0 {
			t.Errorf("%d leases left in Redis", n)
		}
		if v, _ := rdb.HGet(ctx, k[1], "sum").Result(); v != "1500" {
			t.Errorf("tokens counted %s, want 1500 (50 requests of 30)", v)
		}
		if v, _ := rdb.Get(ctx, k[3]).Result(); v != "25" {
			t.Errorf("day's spend %s, want 25", v)
		}
	})
	t.Run("late reply", func(t *testing.T) {
		srv, rdb := retryingClient(t)
		sh := newShared(rdb, "t:", 1, time.Minute, slog.New(slog.DiscardHandler))
		sh.close() // the test plays the worker
		for range 10 {
			sh.settle("k", decision{}, 0, 0.5, now)
		}
		batch := make([]settleJob, 0, 10)
		for len(sh.settles) > 0 {
			batch = append(batch, <-sh.settles)
		}
		other := redisClient(t, srv)
		if err := settleScript.Load(ctx, other).Err(); err != nil {
			t.Fatal(err)
		}
		done := busyRedis(t, srv, time.Second)
		sh.sendBatch(batch)
		done()
		if v, _ := other.Get(ctx, sh.keys("k", now)[3]).Result(); v != "5" {
			t.Fatalf("day's spend %s after a late reply, want 5 (each settlement once)", v)
		}
	})
}

// retryingClient is a Redis client as the server makes it (a read
// timeout, one retry) on a throwaway redis-server, with idle connections
// in its pool as on a busy replica, so that a retry need not dial.
func retryingClient(t *testing.T) (*redistest.Server, *redis.Client) {
	srv := redistest.Start(t)
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	opt.ReadTimeout, opt.MaxRetries = 300*time.Millisecond, 1 // as server/limits.go's
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	var warm sync.WaitGroup
	for range 4 {
		warm.Go(func() { rdb.BLPop(context.Background(), 50*time.Millisecond, "nothing") })
	}
	warm.Wait()
	return srv, rdb
}

// busyRedis keeps srv from answering anyone for d (a long script of
// another client), from 100 ms before it returns; done waits for the end.
func busyRedis(t *testing.T, srv *redistest.Server, d time.Duration) (done func()) {
	busy := make(chan error, 1)
	go func() {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ReadTimeout: 10 * time.Second})
		defer c.Close()
		busy <- c.Eval(context.Background(), `local s = redis.call('TIME')
repeat local t = redis.call('TIME') until (t[1] - s[1]) * 1e6 + (t[2] - s[2]) > tonumber(ARGV[1])
return 1`, nil, d.Microseconds()).Err()
	}()
	time.Sleep(100 * time.Millisecond)
	return func() {
		if err := <-busy; err != nil {
			t.Fatal(err)
		}
	}
}

// A reservation whose reply comes late (Redis busy past the client's read
// timeout, the client retrying once) holds no slot after Redis returns:
// the script Redis ran late, maybe twice, took a lease that the next
// reservation frees.
func TestRedisAdmissionLateReply(t *testing.T) {
	srv, rdb := retryingClient(t)
	sh := newShared(rdb, "t:", 1, time.Minute, slog.New(slog.DiscardHandler))
	defer sh.close()
	ctx := context.Background()
	lim := Limits{MaxParallel: 1}
	if err := admitOneScript.Load(ctx, rdb).Err(); err != nil { // loaded, as on a Redis in use
		t.Fatal(err)
	}
	done := busyRedis(t, srv, time.Second)
	d := sh.reserve(ctx, "k", lim, 1, time.Now())
	if !d.ok || !d.local {
		t.Fatalf("with Redis busy: %+v, want admitted by the per-instance limits", d)
	}
	sh.settle("k", d, 1, 0, time.Now())
	done()
	for deadline := time.Now().Add(3 * time.Second); sh.down.Load(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Redis not back")
		}
	}
	if d = sh.reserve(ctx, "k", lim, 1, time.Now()); !d.ok || d.local {
		t.Fatalf("after Redis returned: %+v, want admitted in Redis (the late run's lease freed)", d)
	}
}

// A reservation the client sends again after a late reply (the first run
// done by then) counts its own lease once: it is admitted, not refused
// for the slot it took itself.
func TestRedisAdmissionSentAgain(t *testing.T) {
	srv, rdb := retryingClient(t)
	sh := newShared(rdb, "t:", 1, time.Minute, slog.New(slog.DiscardHandler))
	defer sh.close()
	ctx := context.Background()
	if err := admitOneScript.Load(ctx, rdb).Err(); err != nil {
		t.Fatal(err)
	}
	// Busy until between the first try's read timeout (300 ms) and the
	// retry's: Redis then runs both, and answers the retry.
	done := busyRedis(t, srv, 550*time.Millisecond)
	d := sh.reserve(ctx, "k", Limits{MaxParallel: 1}, 1, time.Now())
	done()
	if d.local {
		t.Skip("the retry's timing was missed (a loaded machine): both tries timed out")
	}
	if !d.ok {
		t.Fatalf("sent again: %+v, want admitted (its first run's lease is its own)", d)
	}
}

// send is the settle worker sending one settlement, for tests that play
// the worker.
func (s *shared) send(j settleJob) { s.sendBatch([]settleJob{j}) }
