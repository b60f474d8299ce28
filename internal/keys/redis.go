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
// replica, for one subject (a key) or several (a key and its team): each
// subject's budgets, requests in flight (a sorted set of leases that
// expire, so a crashed replica's leases do not hold slots for ever), then
// requests and tokens per minute (hashes of one-second buckets with a
// running sum, admitLib: a sliding window exact to the second). Only when
// every subject allows is any of them reserved. Time is Redis's own, so
// replicas' clocks do not matter.
//
// KEYS, 5 per subject: requests hash, tokens hash, leases zset, day
// spend, month spend.
// ARGV: lease ttl ms, lease member, then 8 per subject: rpm, tpm, est,
// max_parallel, daily budget, monthly budget, this replica's unsent spend
// of the day and of the month (unsentSpend); then pairs of a subject
// (1-based) and one of its ended leases to free first (endedLeases).
// Returns {ok, refusing subject (1-based; 0 when ok), reason, retry_ms,
// second, then 4 per subject: rem_req, reset_req_ms, rem_tok,
// reset_tok_ms}.
var admitScript = redis.NewScript(admitLib + `
local n = #KEYS / 5
local S = {}
for i = 1, n do
  local a = 2 + (i - 1) * 8
  local s = {k = (i - 1) * 5, rpm = tonumber(ARGV[a + 1]), tpm = tonumber(ARGV[a + 2]), est = tonumber(ARGV[a + 3]),
    par = tonumber(ARGV[a + 4]), db = tonumber(ARGV[a + 5]), mb = tonumber(ARGV[a + 6]),
    ud = tonumber(ARGV[a + 7]), um = tonumber(ARGV[a + 8])}
  s.rw, s.tw = load(KEYS[s.k + 1]), load(KEYS[s.k + 2])
  s.rs, s.ts = s.rw.sum, s.tw.sum
  S[i] = s
end
for j = 3 + n * 8, #ARGV - 1, 2 do
  redis.call('ZREM', KEYS[(tonumber(ARGV[j]) - 1) * 5 + 3], ARGV[j + 1])
end
local function reply(ok, who, reason, retry)
  local out = {ok, who, reason, retry, now}
  for i = 1, n do
    local s = S[i]
    local r, e = 0, 0
    if ok == 1 then r, e = 1, s.est end
    out[#out + 1] = math.max(0, s.rpm - s.rs - r)
    out[#out + 1] = reset(s.rw)
    out[#out + 1] = math.max(0, s.tpm - s.ts - e)
    out[#out + 1] = reset(s.tw)
  end
  return out
end
for i = 1, n do
  local s, k = S[i], S[i].k
  if s.db > 0 and tonumber(redis.call('GET', KEYS[k + 4]) or '0') + s.ud >= s.db then return reply(0, i, 'daily_budget', 0) end
  if s.mb > 0 and tonumber(redis.call('GET', KEYS[k + 5]) or '0') + s.um >= s.mb then return reply(0, i, 'monthly_budget', 0) end
  if s.par > 0 then
    redis.call('ZREM', KEYS[k + 3], member) -- a run again of this reservation (see shared.run) counts it once
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 3], '-inf', nowms)
    if redis.call('ZCARD', KEYS[k + 3]) >= s.par then return reply(0, i, 'parallel', 1000) end
  end
  if s.rpm > 0 and s.rs + 1 > s.rpm then return reply(0, i, 'requests', wait(s.rw, 1, s.rpm)) end
  if s.tpm > 0 and s.ts + s.est > s.tpm then return reply(0, i, 'tokens', wait(s.tw, s.est, s.tpm)) end
end
for i = 1, n do
  local s, k = S[i], S[i].k
  if s.rpm > 0 then add(s.rw, 1) end
  if s.tpm > 0 then add(s.tw, s.est) end
  if s.par > 0 then
    redis.call('ZADD', KEYS[k + 3], nowms + ttl, member)
    redis.call('PEXPIRE', KEYS[k + 3], ttl + 1000)
  end
end
return reply(1, 0, '', 0)
`)

// admitOneScript is admitScript for one subject (a key without a team),
// with the same reply and arguments, but for the ended leases, which are
// the arguments after the tenth, without subject numbers: in plain
// locals, the common case pays nothing for teams.
var admitOneScript = redis.NewScript(admitLib + `
local rpm, tpm, est, par, db, mb = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local ud, um = tonumber(ARGV[9]), tonumber(ARGV[10])
for j = 11, #ARGV do redis.call('ZREM', KEYS[3], ARGV[j]) end
local rw, tw = load(KEYS[1]), load(KEYS[2])
local function refuse(reason, retry)
  return {0, 1, reason, retry, now, math.max(0, rpm - rw.sum), reset(rw), math.max(0, tpm - tw.sum), reset(tw)}
end
if db > 0 and tonumber(redis.call('GET', KEYS[4]) or '0') + ud >= db then return refuse('daily_budget', 0) end
if mb > 0 and tonumber(redis.call('GET', KEYS[5]) or '0') + um >= mb then return refuse('monthly_budget', 0) end
if par > 0 then
  redis.call('ZREM', KEYS[3], member)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', nowms)
  if redis.call('ZCARD', KEYS[3]) >= par then return refuse('parallel', 1000) end
end
if rpm > 0 and rw.sum + 1 > rpm then return refuse('requests', wait(rw, 1, rpm)) end
if tpm > 0 and tw.sum + est > tpm then return refuse('tokens', wait(tw, est, tpm)) end
local rs, ts = rw.sum, tw.sum
if rpm > 0 then add(rw, 1) end
if tpm > 0 then add(tw, est) end
if par > 0 then
  redis.call('ZADD', KEYS[3], nowms + ttl, member)
  redis.call('PEXPIRE', KEYS[3], ttl + 1000)
end
return {1, 0, '', 0, now, math.max(0, rpm - rs - 1), reset(rw), math.max(0, tpm - ts - est), reset(tw)}
`)

// admitLib is the scripts' clock and window helpers. A window is a hash
// of one-second buckets (field: the second) with two fields more: "sum",
// the buckets' total, and "lo", the oldest second with a bucket above 0.
// A call reads only those two; the buckets are read back only once "lo"
// has left the window (at most once a second for a busy key) and to tell
// a refused client how long to wait. ("lo" only moves forward: after
// Redis's clock went back less than a minute, buckets from the future
// still count until "lo" leaves the window, refusing early rather than
// late.) With every limit set and full windows, reading every bucket on
// every call kept Redis 88-135 µs in the scripts for a reservation and
// its settlement, against 47-76 with the sum, and its whole process
// 197-221 µs against 134-150 (BenchmarkReserveRedisFullWindow,
// interleaved pairs on a noisy host).
const admitLib = `
local t = redis.call('TIME')
local now = tonumber(t[1])
local nowms = now * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl, member = tonumber(ARGV[1]), ARGV[2]
local function load(key)
  local v = redis.call('HMGET', key, 'sum', 'lo')
  local w = {key = key, sum = tonumber(v[1]) or 0, lo = tonumber(v[2])}
  if w.lo == nil or (w.lo > now - 60 and w.lo <= now) then return w end
  -- The oldest bucket has left the window (or Redis's clock went back):
  -- drop what is out and count again.
  local all = redis.call('HGETALL', key)
  w.sum, w.lo = 0, nil
  for i = 1, #all, 2 do
    local s = tonumber(all[i])
    if s then
      if s <= now - 60 or s > now then
        redis.call('HDEL', key, all[i])
      else
        local n = tonumber(all[i + 1])
        w.sum = w.sum + n
        if n > 0 and (w.lo == nil or s < w.lo) then w.lo = s end
      end
    end
  end
  redis.call('HSET', key, 'sum', w.sum)
  if w.lo then redis.call('HSET', key, 'lo', w.lo) else redis.call('HDEL', key, 'lo') end
  return w
end
local function add(w, n)
  redis.call('HINCRBY', w.key, now, n)
  redis.call('HINCRBY', w.key, 'sum', n)
  if w.lo == nil then
    w.lo = now
    redis.call('HSET', w.key, 'lo', now)
  end
  redis.call('PEXPIRE', w.key, 61000)
  w.sum = w.sum + n
end
local function wait(w, need, limit)
  if w.sum + need <= limit then return 0 end
  if w.lo == nil then return 60000 end
  local f = {}
  for s = w.lo, now do f[#f + 1] = s end
  local v = redis.call('HMGET', w.key, unpack(f))
  local freed = 0
  for i = 1, #f do
    freed = freed + (tonumber(v[i]) or 0)
    if w.sum - freed + need <= limit then return (f[i] + 60) * 1000 - nowms end
  end
  return 60000
end
local function reset(w)
  if w.sum > 0 and w.lo then return (w.lo + 60) * 1000 - nowms end
  return 0
end
`

// settleScript ends a reservation: corrects the reserved tokens, frees
// the lease and adds the cost to the day's and month's spend.
//
// KEYS: tokens hash, leases zset, day spend, month spend.
// ARGV: second, token delta, lease member, cost USD.
var settleScript = redis.NewScript(`
local delta = tonumber(ARGV[2])
if delta ~= 0 then
  local b = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
  if b then
    local v = math.max(0, b + delta)
    redis.call('HSET', KEYS[1], ARGV[1], v)
    redis.call('HINCRBY', KEYS[1], 'sum', v - b)
    local sec, lo = tonumber(ARGV[1]), tonumber(redis.call('HGET', KEYS[1], 'lo'))
    if v > 0 and (lo == nil or lo > sec) then
      -- A bucket back above 0 (its first request reserved no tokens) is
      -- the window's oldest.
      redis.call('HSET', KEYS[1], 'lo', sec)
    elseif v == 0 and lo == sec then
      -- The oldest bucket is at 0 now (every request of its second failed
      -- before spending): the next one above 0 is.
      local f = {}
      for s = sec + 1, sec + 60 do f[#f + 1] = s end
      local n, nxt = redis.call('HMGET', KEYS[1], unpack(f)), nil
      for i = 1, #f do
        if (tonumber(n[i]) or 0) > 0 then nxt = f[i] break end
      end
      if nxt then redis.call('HSET', KEYS[1], 'lo', nxt) else redis.call('HDEL', KEYS[1], 'lo') end
    end
  end
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
	ended   endedLeases    // leases the worker has yet to free
	unsent  unsentSpend    // costs the worker has yet to add
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
	p := s.prefix + "{" + id + "}:"
	day, month := s.spendKeys(id, now)
	// "rw" and "tw": windows with a running sum (admitLib); an older
	// replica's script read the "r" and "t" hashes as buckets only.
	return []string{p + "rw", p + "tw", p + "p", day, month}
}

// spendKeys are the Redis keys of a subject's spend on now's day and in
// its month.
func (s *shared) spendKeys(id string, now time.Time) (day, month string) {
	d, m := dayMonth(now)
	p := s.prefix + "{" + id + "}:"
	return p + "sd:" + d, p + "sm:" + m
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
	var d [1]decision
	if !s.run(ctx, []subject{{id, lim}}, est, now, d[:]) {
		return s.fallback.reserve(id, s.divided(lim), est, now)
	}
	return d[0]
}

// reservePair is local.reservePair in Redis: one script run checks the
// key and its team and reserves for both or neither.
func (s *shared) reservePair(ctx context.Context, kid string, kl Limits, tid string, tl Limits, est int64, now time.Time) (decision, decision) {
	if s.down.Load() {
		return s.fallback.reservePair(kid, s.divided(kl), tid, s.divided(tl), est, now)
	}
	var d [2]decision
	if !s.run(ctx, []subject{{kid, kl}, {tid, tl}}, est, now, d[:]) {
		return s.fallback.reservePair(kid, s.divided(kl), tid, s.divided(tl), est, now)
	}
	return d[0], d[1]
}

// subject is one set of limits a request is reserved against: a key's,
// or its team's.
type subject struct {
	id  string
	lim Limits
}

// run runs admitScript for subs and fills out (one decision each). It
// reports false when Redis failed (s.fail was told; the caller falls
// back). A late reply may be a script Redis ran all the same, or the
// client may send it again (the server's retries once): the script frees
// its own lease before it counts the requests in flight, and a lease of
// a failed run is freed by the next reservation, so neither holds a slot;
// requests and tokens may then count twice, refusing early, not late.
func (s *shared) run(ctx context.Context, subs []subject, est int64, now time.Time, out []decision) bool {
	var lease string
	for _, sub := range subs {
		if sub.lim.MaxParallel > 0 && lease == "" {
			var b [8]byte
			_, _ = rand.Read(b[:])
			lease = hex.EncodeToString(b[:])
		}
	}
	// The subjects' ended leases: a key and its team at most today; a
	// further subject's would wait for the settle worker.
	var endedBuf [2][]string
	ended := endedBuf[:min(len(subs), len(endedBuf))]
	keys, args := s.admitArgs(subs, est, now, lease, ended)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	script := admitScript
	if len(subs) == 1 {
		script = admitOneScript
	}
	res, err := script.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil || len(res) != 5+4*len(subs) {
		if err == nil {
			err = errors.New("unexpected reply to the admission script")
		}
		// Redis may have run the script all the same (its reply was late):
		// the lease it took is freed by the subjects' next reservation.
		for _, sub := range subs {
			if lease != "" && sub.lim.MaxParallel > 0 {
				s.ended.add(sub.id, lease)
			}
		}
		s.fail(err)
		return false
	}
	for i, l := range ended {
		if len(l) > 0 {
			s.ended.remove(subs[i].id, l...)
		}
	}
	decisions(res, subs, lease, est, now, out)
	return true
}

// admitArgs returns the admission script's keys and arguments for subs
// (see admitScript), and fills ended with the subjects' ended leases it
// passes.
func (s *shared) admitArgs(subs []subject, est int64, now time.Time, lease string, ended [][]string) ([]string, []any) {
	var keys []string
	args := make([]any, 0, 2+8*len(subs))
	args = append(args, s.leaseTTL.Milliseconds(), lease)
	for i, sub := range subs {
		k := s.keys(sub.id, now)
		if keys == nil {
			keys = k // one subject: no copy
		} else {
			keys = append(keys, k...)
		}
		ud, um := s.unsent.of(k[3], k[4])
		args = append(args, sub.lim.RPM, sub.lim.TPM, est, sub.lim.MaxParallel,
			strconv.FormatFloat(sub.lim.DailyBudgetUSD, 'f', -1, 64), strconv.FormatFloat(sub.lim.MonthlyBudgetUSD, 'f', -1, 64),
			strconv.FormatFloat(ud, 'f', -1, 64), strconv.FormatFloat(um, 'f', -1, 64))
		if sub.lim.MaxParallel > 0 && i < len(ended) {
			ended[i] = s.ended.of(sub.id)
		}
	}
	for i, l := range ended {
		for _, lease := range l {
			if len(subs) > 1 {
				args = append(args, i+1)
			}
			args = append(args, lease)
		}
	}
	return keys, args
}

// decisions reads the admission script's reply res into out, one
// decision per subject.
func decisions(res []any, subs []subject, lease string, est int64, now time.Time, out []decision) {
	n := func(i int) int64 { v, _ := res[i].(int64); return v }
	ms := func(i int) time.Duration { return time.Duration(n(i)) * time.Millisecond }
	ok, who := n(0) == 1, int(n(1))
	for i, sub := range subs {
		j := 5 + 4*i
		d := decision{ok: ok, remReq: n(j), resetReq: ms(j + 1), remTok: n(j + 2), resetTok: ms(j + 3), sec: n(4), est: est}
		if sub.lim.MaxParallel > 0 {
			d.lease = lease
		}
		if i+1 == who {
			d.reason, _ = res[2].(string)
			d.retry = ms(3)
			switch d.reason {
			case reasonDaily:
				d.retry = untilTomorrow(now)
			case reasonMonthly:
				d.retry = untilNextMonth(now)
			}
		}
		out[i] = d
	}
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
	if d.lease != "" {
		s.ended.add(id, d.lease)
	}
	var day, month string
	if usd > 0 {
		day, month = s.spendKeys(id, now)
		s.unsent.add(usd, day, month)
	}
	select {
	case s.settles <- settleJob{id, d, used, usd, now}:
	default:
		// Full (Redis slow): leases expire and windows move on by
		// themselves; only this cost is not shared.
		if d.lease != "" {
			s.ended.remove(id, d.lease)
		}
		if usd > 0 {
			s.unsent.done(usd, day, month)
		}
		s.log.Warn("Redis limiter: settle queue full; a request's cost is counted on this instance only", "key_id", id)
	}
}

// maxSettleBatch bounds the settlements sent in one round trip.
const maxSettleBatch = 64

// settleLoop is the settle worker: it sends the settlements waiting in
// the queue together, in one round trip (sendBatch). Behind a busy
// replica the queue holds several, and each settlement then costs Redis
// its script but not a read and a write of its own.
func (s *shared) settleLoop() {
	batch := make([]settleJob, 0, maxSettleBatch)
	for {
		select {
		case <-s.stop:
			for {
				select {
				case j := <-s.settles:
					s.sendBatch(s.collect(append(batch[:0], j)))
				default:
					return
				}
			}
		case j := <-s.settles:
			s.sendBatch(s.collect(append(batch[:0], j)))
		}
		clear(batch[:cap(batch)]) // the queue's jobs hold no memory here
	}
}

// collect adds to batch the settlements waiting in the queue, up to
// maxSettleBatch in all.
func (s *shared) collect(batch []settleJob) []settleJob {
	for len(batch) < maxSettleBatch {
		select {
		case j := <-s.settles:
			batch = append(batch, j)
		default:
			return batch
		}
	}
	return batch
}

// sendBatch runs settleScript for each job, in one transaction (MULTI …
// EXEC, pipelined): a settlement adds to the spend and corrects the
// tokens, so it must never run twice, and go-redis sends a plain
// command or pipeline again after a read timeout or a lost connection,
// when Redis may have run it already; it does not resend a transaction
// whose EXEC may have been read, and a transaction that did not run ran
// none of its scripts.
//
// A lease that could not be freed (Redis down or failing) stays among
// the ended ones, and the subject's next reservation once Redis answers
// frees it: a request that ended while Redis was away does not hold its
// slot for the lease's whole TTL (30 minutes by default) after Redis
// returns.
func (s *shared) sendBatch(jobs []settleJob) {
	keys := make([][]string, len(jobs))
	for i, j := range jobs {
		keys[i] = s.keys(j.id, j.now)
		if j.usd > 0 {
			// No longer this replica's to add, before the script adds it:
			// a reservation during its round trip would otherwise count
			// it twice and refuse until tomorrow. (Counted nowhere for
			// that round trip instead.) With Redis down it is counted in
			// process.
			s.unsent.done(j.usd, keys[i][3], keys[i][4])
		}
	}
	if s.down.Load() {
		return // counted in process
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	all := make([]int, len(jobs))
	for i := range all {
		all[i] = i
	}
	cmds := s.settleTx(ctx, jobs, keys, all)
	var again []int
	for i, c := range cmds {
		if err := c.Err(); err != nil && (redis.HasErrorPrefix(err, "NOSCRIPT") || redis.HasErrorPrefix(err, "EXECABORT")) {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		// Redis lost its scripts (a restart): those did not run. Load
		// the script and send them again.
		if err := settleScript.Load(ctx, s.rdb).Err(); err == nil {
			for n, c := range s.settleTx(ctx, jobs, keys, again) {
				cmds[again[n]] = c
			}
		}
	}
	for i, j := range jobs {
		if err := cmds[i].Err(); err != nil {
			s.fail(err)
			continue
		}
		if j.d.lease != "" {
			s.ended.remove(j.id, j.d.lease)
		}
	}
}

// settleTx sends the jobs at the indices given in one transaction and
// returns their commands, in that order.
func (s *shared) settleTx(ctx context.Context, jobs []settleJob, keys [][]string, at []int) []*redis.Cmd {
	tx := s.rdb.TxPipeline()
	cmds := make([]*redis.Cmd, len(at))
	for n, i := range at {
		j, k := jobs[i], keys[i]
		var delta int64
		if j.d.ok {
			delta = j.used - j.d.est
		}
		cmds[n] = settleScript.EvalSha(ctx, tx, []string{k[1], k[2], k[3], k[4]}, j.d.sec, delta, j.d.lease,
			strconv.FormatFloat(j.usd, 'f', -1, 64))
	}
	_, _ = tx.Exec(ctx) // each command has its error
	return cmds
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
