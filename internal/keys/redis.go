package keys

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// admitScript checks and reserves in one step, atomically for every
// replica: budgets, requests in flight (a sorted set of leases that expire,
// so a crashed replica's leases do not hold slots for ever), then requests
// and tokens per minute (hashes of one-second buckets: a sliding window
// exact to the second). Time is Redis's own, so replicas' clocks do not
// matter.
//
// KEYS: requests hash, tokens hash, leases zset, day spend, month spend.
// ARGV: rpm, tpm, est, max_parallel, lease ttl ms, lease member,
// daily budget, monthly budget.
// Returns {ok, reason, rem_req, reset_req_ms, rem_tok, reset_tok_ms,
// retry_ms, second}.
var admitScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1])
local nowms = now * 1000 + math.floor(tonumber(t[2]) / 1000)
local rpm, tpm, est, par = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local function load(key)
  local all = redis.call('HGETALL', key)
  local b, sum = {}, 0
  for i = 1, #all, 2 do
    local s, v = tonumber(all[i]), tonumber(all[i + 1])
    if s <= now - 60 or s > now then
      redis.call('HDEL', key, all[i])
    else
      b[s] = v
      sum = sum + v
    end
  end
  return b, sum
end
local function wait(b, sum, need, limit)
  if sum + need <= limit then return 0 end
  local freed = 0
  for s = now - 59, now do
    freed = freed + (b[s] or 0)
    if sum - freed + need <= limit then return (s + 60) * 1000 - nowms end
  end
  return 60000
end
local function reset(b)
  for s = now - 59, now do
    if (b[s] or 0) > 0 then return (s + 60) * 1000 - nowms end
  end
  return 0
end
local rb, rs = load(KEYS[1])
local tb, ts = load(KEYS[2])
local remr, remt = math.max(0, rpm - rs), math.max(0, tpm - ts)
local function refuse(reason, retry)
  return {0, reason, remr, reset(rb), remt, reset(tb), retry, now}
end
local db, mb = tonumber(ARGV[7]), tonumber(ARGV[8])
if db > 0 and tonumber(redis.call('GET', KEYS[4]) or '0') >= db then return refuse('daily_budget', 0) end
if mb > 0 and tonumber(redis.call('GET', KEYS[5]) or '0') >= mb then return refuse('monthly_budget', 0) end
if par > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', nowms)
  if redis.call('ZCARD', KEYS[3]) >= par then return refuse('parallel', 1000) end
end
if rpm > 0 and rs + 1 > rpm then return refuse('requests', wait(rb, rs, 1, rpm)) end
if tpm > 0 and ts + est > tpm then return refuse('tokens', wait(tb, ts, est, tpm)) end
if rpm > 0 then
  redis.call('HINCRBY', KEYS[1], now, 1)
  redis.call('PEXPIRE', KEYS[1], 61000)
  rb[now] = (rb[now] or 0) + 1
end
if tpm > 0 then
  redis.call('HINCRBY', KEYS[2], now, est)
  redis.call('PEXPIRE', KEYS[2], 61000)
  tb[now] = (tb[now] or 0) + est
end
if par > 0 then
  redis.call('ZADD', KEYS[3], nowms + tonumber(ARGV[5]), ARGV[6])
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[5]) + 1000)
end
return {1, '', math.max(0, rpm - rs - 1), reset(rb), math.max(0, tpm - ts - est), reset(tb), 0, now}
`)

// settleScript ends a reservation: corrects the reserved tokens, frees
// the lease and adds the cost to the day's and month's spend.
//
// KEYS: tokens hash, leases zset, day spend, month spend.
// ARGV: second, token delta, lease member, cost USD.
var settleScript = redis.NewScript(`
local delta = tonumber(ARGV[2])
if delta ~= 0 and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  local v = redis.call('HINCRBY', KEYS[1], ARGV[1], delta)
  if v < 0 then redis.call('HSET', KEYS[1], ARGV[1], 0) end
end
if ARGV[3] ~= '' then redis.call('ZREM', KEYS[2], ARGV[3]) end
if tonumber(ARGV[4]) > 0 then
  redis.call('INCRBYFLOAT', KEYS[3], ARGV[4])
  redis.call('EXPIRE', KEYS[3], 172800)
  redis.call('INCRBYFLOAT', KEYS[4], ARGV[4])
  redis.call('EXPIRE', KEYS[4], 2764800)
end
return 1
`)

// shared is the Redis limiter, with the in-process one (limits divided by
// the expected replicas) to fall back on while Redis cannot be reached.
type shared struct {
	rdb      *redis.Client
	prefix   string
	fallback *local
	replicas int64
	leaseTTL time.Duration
	timeout  time.Duration
	log      *slog.Logger

	down    atomic.Bool  // Redis unreachable: the fallback decides
	busy    atomic.Int64 // requests decided by the fallback because Redis was slow to answer
	probing atomic.Bool  // a goroutine is waiting for Redis to come back
	why     atomic.Pointer[string]
	wg      sync.WaitGroup
	stop    chan struct{}

	settles chan settleJob // Settle must not block: a worker sends these
}

type settleJob struct {
	id   string
	d    decision
	used int64
	usd  float64
	now  time.Time
}

func newShared(rdb *redis.Client, prefix string, replicas int, leaseTTL time.Duration, log *slog.Logger) *shared {
	s := &shared{rdb: rdb, prefix: prefix, fallback: newLocal(), replicas: int64(max(1, replicas)), leaseTTL: leaseTTL,
		timeout: 2 * time.Second, log: log, stop: make(chan struct{}), settles: make(chan settleJob, 8192)}
	s.wg.Go(s.settleLoop)
	return s
}

func (s *shared) keys(id string, now time.Time) []string {
	day, month := dayMonth(now)
	p := s.prefix + "{" + id + "}:"
	return []string{p + "r", p + "t", p + "p", p + "sd:" + day, p + "sm:" + month}
}

// divided is lim for one of the expected replicas (rounded up, so a limit
// never becomes 0 = none).
func (s *shared) divided(lim Limits) Limits {
	div := func(v int64) int64 {
		if v == 0 {
			return 0
		}
		return max(1, (v+s.replicas-1)/s.replicas)
	}
	lim.RPM, lim.TPM, lim.MaxParallel = div(lim.RPM), div(lim.TPM), div(lim.MaxParallel)
	return lim
}

func (s *shared) reserve(ctx context.Context, id string, lim Limits, est int64, now time.Time) decision {
	if s.down.Load() {
		return s.fallback.reserve(id, s.divided(lim), est, now)
	}
	var lease string
	if lim.MaxParallel > 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		lease = hex.EncodeToString(b[:])
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	res, err := admitScript.Run(ctx, s.rdb, s.keys(id, now), lim.RPM, lim.TPM, est, lim.MaxParallel, s.leaseTTL.Milliseconds(), lease,
		strconv.FormatFloat(lim.DailyBudgetUSD, 'f', -1, 64), strconv.FormatFloat(lim.MonthlyBudgetUSD, 'f', -1, 64)).Slice()
	if err != nil || len(res) != 8 {
		if err == nil {
			err = errors.New("unexpected reply to the admission script")
		}
		s.fail(err)
		return s.fallback.reserve(id, s.divided(lim), est, now)
	}
	n := func(i int) int64 { v, _ := res[i].(int64); return v }
	ms := func(i int) time.Duration { return time.Duration(n(i)) * time.Millisecond }
	d := decision{ok: n(0) == 1, remReq: n(2), resetReq: ms(3), remTok: n(4), resetTok: ms(5), retry: ms(6), sec: n(7), est: est, lease: lease}
	d.reason, _ = res[1].(string)
	switch d.reason {
	case reasonDaily:
		d.retry = untilTomorrow(now)
	case reasonMonthly:
		d.retry = untilNextMonth(now)
	}
	return d
}

// settle hands the reservation's end to the worker; the spend is also
// kept in process, for the fallback.
func (s *shared) settle(id string, d decision, used int64, usd float64, now time.Time) {
	s.fallback.spend(id, usd, now)
	if d.local {
		s.fallback.settle(id, d, used, now)
		if usd <= 0 {
			return
		}
		d = decision{} // the cost still goes to Redis's shared spend
	}
	select {
	case s.settles <- settleJob{id, d, used, usd, now}:
	default:
		// Full (Redis slow): leases expire and windows move on by
		// themselves; only this cost is not shared.
		s.log.Warn("Redis limiter: settle queue full; a request's cost is counted on this instance only", "key_id", id)
	}
}

func (s *shared) settleLoop() {
	for {
		select {
		case <-s.stop:
			for {
				select {
				case j := <-s.settles:
					s.send(j)
				default:
					return
				}
			}
		case j := <-s.settles:
			s.send(j)
		}
	}
}

func (s *shared) send(j settleJob) {
	if s.down.Load() {
		return // counted in process; the lease expires
	}
	var delta int64
	if j.d.ok {
		delta = j.used - j.d.est
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	k := s.keys(j.id, j.now)
	err := settleScript.Run(ctx, s.rdb, []string{k[1], k[2], k[3], k[4]}, j.d.sec, delta, j.d.lease,
		strconv.FormatFloat(j.usd, 'f', -1, 64)).Err()
	if err != nil {
		s.fail(err)
	}
}

// seed sets a key's spend in Redis from the store where Redis has none
// (a fresh or restarted Redis), never lowering what Redis counts.
func (s *shared) seed(ctx context.Context, id string, sp Spend, now time.Time) {
	if s.down.Load() {
		return
	}
	k := s.keys(id, now)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SetNX(ctx, k[3], strconv.FormatFloat(sp.TodayUSD, 'f', -1, 64), 48*time.Hour)
		p.SetNX(ctx, k[4], strconv.FormatFloat(sp.MonthUSD, 'f', -1, 64), 32*24*time.Hour)
		return nil
	})
	if err != nil {
		s.fail(err)
	}
}

// fail switches to the per-instance limits and starts waiting for Redis,
// unless err says only that this process is busy (its own deadline or
// connection pool ran out while Redis itself answers): then only the
// request at hand uses the per-instance limits.
func (s *shared) fail(err error) {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrPoolTimeout) {
		if s.busy.Add(1) == 1 {
			s.log.Warn("Redis limiter: a request waited too long for Redis; it was admitted by the per-instance limits", "error", err)
		}
		return
	}
	msg := err.Error()
	s.why.Store(&msg)
	if s.down.Swap(true) {
		return
	}
	s.log.Warn("Redis unreachable: limits are per instance now (each limit divided by the expected replicas) until it returns",
		"replicas", s.replicas, "error", msg)
	if s.probing.Swap(true) {
		return
	}
	s.wg.Go(s.probe)
}

// probe pings Redis every half second until it answers, then returns the
// limits to it.
func (s *shared) probe() {
	defer s.probing.Store(false)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		err := s.rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			s.down.Store(false)
			s.log.Info("Redis reachable again: limits are shared by the replicas again")
			return
		}
	}
}

func (s *shared) status() (mode, reason string) {
	if s.down.Load() {
		why := ""
		if p := s.why.Load(); p != nil {
			why = *p
		}
		return "per-instance", "Redis unreachable: " + why
	}
	return "redis", ""
}

func (s *shared) close() {
	close(s.stop)
	s.wg.Wait()
}
