package keys

import (
	"context"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/redistest"
	"github.com/llmbridge/llmbridge/internal/usage"
	"github.com/redis/go-redis/v9"
)

func benchAdmit(b *testing.B, o Options) { benchAdmitTeam(b, o, nil) }

// benchAdmitTeam is benchAdmit for a key of a team with p's limits (nil:
// no team).
func benchAdmitTeam(b *testing.B, o Options, team *TeamParams) {
	s := NewStore(openStore(b, sqlitePath(b)))
	p := Params{Name: ptr("bench"), Models: &[]string{"openai/*"}, RPM: ptr[int64](1 << 40), MaxParallel: ptr[int64](1 << 20)}
	if team != nil {
		createTeam(b, s, *team)
		p.Team = &team.Name
	}
	_, secret := create(b, s, p)
	o.Store = s
	a := newAdmitter(b, o)
	h := http.Header{"Authorization": {"Bearer " + secret}}
	ctx := context.Background()
	resp := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		r := llmbridge.Request{Format: "chat", Model: "openai/gpt-4o", Header: h}
		t, err := a.Admit(ctx, &r)
		if err != nil {
			b.Fatal(err)
		}
		clear(resp)
		t.(llmbridge.HeaderAdder).AddHeader(resp) // the bridge adds them to every response
		if len(resp) != 3 {
			b.Fatal("no x-ratelimit-* headers")
		}
		t.Settle(llmbridge.UsageRecord{TotalTokens: 10})
	}
}

// BenchmarkAdmitInProcess is what a limited key adds to a request in one
// instance: lookup, model check, reserve and settle.
func BenchmarkAdmitInProcess(b *testing.B) { benchAdmit(b, Options{}) }

// BenchmarkAdmitEveryLimit is what a key with every limit and both
// budgets adds to a request, as bridgebench's bridge-limits sets them: the
// key checked before the body is read (Authenticate), then admitted, its
// six x-ratelimit-* headers added, and settled with a priced usage.
func BenchmarkAdmitEveryLimit(b *testing.B) {
	s := NewStore(openStore(b, sqlitePath(b)))
	_, secret := create(b, s, Params{Name: ptr("bench"), Models: &[]string{"openai/*"}, RPM: ptr[int64](1 << 40), TPM: ptr[int64](1 << 40),
		MaxParallel: ptr[int64](1 << 20), DailyBudgetUSD: ptr(1e6), MonthlyBudgetUSD: ptr(1e7)})
	a := newAdmitter(b, Options{Store: s, Prices: usage.DefaultPrices()})
	h := http.Header{"Authorization": {"Bearer " + secret}}
	ctx := context.Background()
	resp := http.Header{}
	rec := llmbridge.UsageRecord{Model: "openai/gpt-4o", Provider: "openai", UpstreamModel: "gpt-4o", PromptTokens: 20, CompletionTokens: 30, TotalTokens: 50}
	b.ReportAllocs()
	for b.Loop() {
		r := llmbridge.Request{Format: "chat", Model: "openai/gpt-4o", Header: h}
		if err := a.Authenticate(ctx, &r); err != nil {
			b.Fatal(err)
		}
		t, err := a.Admit(ctx, &r)
		if err != nil {
			b.Fatal(err)
		}
		clear(resp)
		t.(llmbridge.HeaderAdder).AddHeader(resp)
		if len(resp) != 6 {
			b.Fatal("not six x-ratelimit-* headers")
		}
		t.Settle(rec)
	}
}

// BenchmarkAdmitRedis is the same with the limits in a real Redis over
// loopback (one script round trip; settle is queued).
func BenchmarkAdmitRedis(b *testing.B) {
	srv := redistest.Start(b)
	benchAdmit(b, Options{Redis: redisClient(b, srv)})
}

// BenchmarkAdmitTeamInProcess is a key of a team with limits of its
// own: both reserved together under both locks.
func BenchmarkAdmitTeamInProcess(b *testing.B) {
	benchAdmitTeam(b, Options{}, &TeamParams{Name: "bench", Limits: Limits{RPM: 1 << 40, MaxParallel: 1 << 20}})
}

// BenchmarkAdmitTeamRedis is the same in Redis: still one script run.
func BenchmarkAdmitTeamRedis(b *testing.B) {
	srv := redistest.Start(b)
	benchAdmitTeam(b, Options{Redis: redisClient(b, srv)}, &TeamParams{Name: "bench", Limits: Limits{RPM: 1 << 40, MaxParallel: 1 << 20}})
}

// BenchmarkReserveRedisFullWindow is one key's reservation and
// settlement in Redis with every limit set and its windows full, as under
// steady load: a bucket in each of the last 60 seconds for requests and
// for tokens. script-µs/op is Redis's time in the scripts (INFO
// commandstats), redis-cpu-µs/op all the CPU the Redis process used (INFO
// cpu): what bounds the requests a second one Redis serves for all
// replicas.
func BenchmarkReserveRedisFullWindow(b *testing.B) {
	sh, rdb := sharedOnRedis(b, time.Minute, true)
	ctx := context.Background()
	lim := Limits{RPM: 1 << 40, TPM: 1 << 50, MaxParallel: 1 << 20, DailyBudgetUSD: 1e9, MonthlyBudgetUSD: 1e9}
	fillWindows(b, rdb, sh.keys("k", time.Now()))
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	cpu := redisCPU(b, rdb)
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		d := sh.reserve(ctx, "k", lim, 100, now)
		if !d.ok {
			b.Fatalf("refused: %+v", d)
		}
		sh.send(settleJob{"k", d, 80, 0.001, now}) // in line: its cost is measured too
	}
	b.StopTimer()
	b.ReportMetric(redisMicros(b, rdb)/float64(b.N), "script-µs/op")
	b.ReportMetric((redisCPU(b, rdb)-cpu)/float64(b.N), "redis-cpu-µs/op")
}

// redisCPU is the CPU time the Redis process has used, in microseconds:
// the scripts and everything else a request costs it (reading the
// commands, writing the replies).
func redisCPU(tb testing.TB, rdb *redis.Client) float64 {
	var total float64
	for k, v := range redisInfo(tb, rdb, "cpu") {
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			n, _ := strconv.ParseFloat(v, 64)
			total += n * 1e6
		}
	}
	return total
}

// redisMicros is the CPU time Redis spent in scripts since the last
// CONFIG RESETSTAT, in microseconds.
func redisMicros(tb testing.TB, rdb *redis.Client) float64 {
	var total float64
	for k, v := range redisInfo(tb, rdb, "commandstats") {
		if !strings.HasPrefix(k, "cmdstat_eval") {
			continue
		}
		for _, f := range strings.Split(v, ",") {
			if v, ok := strings.CutPrefix(f, "usec="); ok {
				n, _ := strconv.ParseFloat(v, 64)
				total += n
			}
		}
	}
	return total
}

// redisInfo is a section of INFO: its fields and their values.
func redisInfo(tb testing.TB, rdb *redis.Client, section string) iter.Seq2[string, string] {
	info, err := rdb.Info(context.Background(), section).Result()
	if err != nil {
		tb.Fatal(err)
	}
	return func(yield func(string, string) bool) {
		for _, line := range strings.Split(info, "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !yield(k, v) {
				return
			}
		}
	}
}

// BenchmarkReserveRedisParallel is BenchmarkReserveRedisFullWindow with
// 25 requests at a time per CPU (50 on the 2-CPU machine of the README's
// numbers) and settlements through the worker, as on a busy replica:
// redis-cpu-µs/op is then what one request costs Redis.
func BenchmarkReserveRedisParallel(b *testing.B) {
	sh, rdb := sharedOnRedis(b, time.Minute, true)
	ctx := context.Background()
	lim := Limits{RPM: 1 << 40, TPM: 1 << 50, MaxParallel: 1 << 20, DailyBudgetUSD: 1e9, MonthlyBudgetUSD: 1e9}
	fillWindows(b, rdb, sh.keys("k", time.Now()))
	cpu := redisCPU(b, rdb)
	b.ReportAllocs()
	b.SetParallelism(25)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			now := time.Now()
			d := sh.reserve(ctx, "k", lim, 100, now)
			if !d.ok {
				b.Errorf("refused: %+v", d)
				return
			}
			sh.settle("k", d, 80, 0.001, now)
		}
	})
	sh.close() // the last settlements are sent
	b.StopTimer()
	b.ReportMetric((redisCPU(b, rdb)-cpu)/float64(b.N), "redis-cpu-µs/op")
}
