package keys

import (
	"sync"
	"sync/atomic"
	"time"
)

// Why a request was refused (decision.reason).
const (
	reasonRequests = "requests"
	reasonTokens   = "tokens"
	reasonParallel = "parallel"
	reasonDaily    = "daily_budget"
	reasonMonthly  = "monthly_budget"
)

// windowLen is the sliding window of RPM and TPM, in one-second buckets.
const windowLen = 60

// decision is a limiter's answer for one request: admitted (a
// reservation to settle) or refused (reason), with what the rate-limit
// headers say either way.
type decision struct {
	ok     bool
	reason string

	remReq, remTok     int64         // what is left after this request (or now, when refused)
	resetReq, resetTok time.Duration // until the oldest counted request/token leaves the window
	retry              time.Duration // refused: when to try again

	// The reservation, when ok.
	sec   int64  // the second whose buckets hold it
	est   int64  // tokens reserved
	lease string // Redis: the in-flight lease's member; "" without one
	local bool   // made by the in-process limiter (Redis fell back)
}

// window counts over the last windowLen seconds in one bucket per second:
// a sliding window exact to the second.
type window struct {
	sec [windowLen]int64 // the second each bucket holds
	n   [windowLen]int64
}

// count returns the window's sum at second now and how long from at
// until its oldest counted bucket leaves the window (0 when nothing is
// counted; never 0 otherwise, as at is in second now): sum and reset in
// one pass over the buckets.
func (w *window) count(now int64, at time.Time) (sum int64, reset time.Duration) {
	oldest := now + 1
	for i := range w.sec {
		if s := w.sec[i]; s > now-windowLen && s <= now {
			sum += w.n[i]
			if w.n[i] > 0 && s < oldest {
				oldest = s
			}
		}
	}
	if oldest <= now {
		reset = time.Unix(oldest+windowLen, 0).Sub(at)
	}
	return sum, reset
}

func (w *window) add(now, v int64) {
	i := now % windowLen
	if w.sec[i] != now {
		w.sec[i], w.n[i] = now, 0
	}
	w.n[i] += v
}

// fix corrects the bucket of second sec by delta, if it is still counted.
func (w *window) fix(sec, delta, now int64) {
	i := sec % windowLen
	if w.sec[i] == sec && sec > now-windowLen {
		w.n[i] = max(0, w.n[i]+delta)
	}
}

// wait returns how long until need more fit under limit, given the
// current sum: the time the oldest buckets leave the window. It returns
// a whole window when need alone exceeds the limit.
func (w *window) wait(now int64, at time.Time, sum, need, limit int64) time.Duration {
	if sum+need <= limit {
		return 0
	}
	var freed int64
	for s := now - windowLen + 1; s <= now; s++ {
		if i := s % windowLen; w.sec[i] == s {
			freed += w.n[i]
		}
		if sum-freed+need <= limit {
			return time.Unix(s+windowLen, 0).Sub(at)
		}
	}
	return windowLen * time.Second
}

// slot is one key's state in the in-process limiter.
type slot struct {
	mu       sync.Mutex
	req, tok window
	inflight int64
	spend    spendBook
}

// spendBook is one key's spend: what the store said at the last refresh
// (all instances, a moment behind) and the store at start plus what this
// instance settled since (never behind for its own requests). The larger
// of the two counts: neither double-counts.
type spendBook struct {
	day, month               string // the UTC day and month the numbers are for
	ownDay, ownMonth         float64
	storedDay, storedMonth   float64
	seededDay, seededMonthly bool
}

func (b *spendBook) roll(day, month string) {
	if b.day != day {
		b.day, b.ownDay, b.storedDay, b.seededDay = day, 0, 0, false
	}
	if b.month != month {
		b.month, b.ownMonth, b.storedMonth, b.seededMonthly = month, 0, 0, false
	}
}

// add counts what this instance settled in the periods day and month.
func (b *spendBook) add(day, month string, usd float64) {
	b.roll(day, month)
	b.ownDay += usd
	b.ownMonth += usd
}

func (b *spendBook) spent() (day, month float64) {
	return max(b.ownDay, b.storedDay), max(b.ownMonth, b.storedMonth)
}

// local is the in-process limiter: exact, every check and reservation of
// one key under that key's lock.
type local struct {
	mu    sync.Mutex
	slots map[string]*slot
}

func newLocal() *local { return &local{slots: map[string]*slot{}} }

func (l *local) slot(id string) *slot {
	l.mu.Lock()
	s := l.slots[id]
	if s == nil {
		s = &slot{}
		l.slots[id] = s
	}
	l.mu.Unlock()
	return s
}

// dayMonth is t's UTC day ("2006-01-02") and month ("2006-01"), the
// budget periods. Every request asks; the strings of the current day
// are kept, so only the first request of a day formats them.
func dayMonth(t time.Time) (string, string) {
	t = t.UTC()
	d := t.Unix() / 86400
	if c := periods.Load(); c != nil && c.unixDay == d {
		return c.day, c.month
	}
	c := &dayPeriods{unixDay: d, day: t.Format(time.DateOnly), month: t.Format("2006-01")}
	periods.Store(c)
	return c.day, c.month
}

// dayPeriods are one UTC day's period names (dayMonth).
type dayPeriods struct {
	unixDay    int64
	day, month string
}

var periods atomic.Pointer[dayPeriods]

// untilTomorrow and untilNextMonth are the Retry-After of a spent budget.
func untilTomorrow(t time.Time) time.Duration {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC).Sub(t)
}

func untilNextMonth(t time.Time) time.Duration {
	t = t.UTC()
	return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC).Sub(t)
}

// reserve checks lim for key id at now and, if every limit allows, reserves
// one request, est tokens and one slot in flight.
func (l *local) reserve(id string, lim Limits, est int64, now time.Time) decision {
	s := l.slot(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.check(lim, est, now)
	if d.ok {
		s.commit(&d, lim, est, now)
	}
	return d
}

// reservePair reserves for a key (kid, kl) and its team (tid, tl) at
// once: both slots are locked (the key's first, always, so two pairs
// cannot deadlock), both are checked, and only when both allow is either
// reserved. A refusal has its reason in the refusing side's decision;
// neither decision is ok then, and nothing is reserved.
func (l *local) reservePair(kid string, kl Limits, tid string, tl Limits, est int64, now time.Time) (kd, td decision) {
	ks, ts := l.slot(kid), l.slot(tid)
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	kd, td = ks.check(kl, est, now), ts.check(tl, est, now)
	if !kd.ok || !td.ok {
		if kd.ok {
			kd.ok = false // the team refused: the key reserves nothing
		} else {
			td.ok, td.reason = false, "" // the key refused first
		}
		return kd, td
	}
	ks.commit(&kd, kl, est, now)
	ts.commit(&td, tl, est, now)
	return kd, td
}

// check decides whether lim allows one more request of est tokens now
// (s.mu held); it reserves nothing (commit does).
func (s *slot) check(lim Limits, est int64, now time.Time) decision {
	sec := now.Unix()
	day, month := dayMonth(now)
	s.spend.roll(day, month)
	d := decision{local: true}
	rs, resetReq := s.req.count(sec, now)
	ts, resetTok := s.tok.count(sec, now)
	d.remReq, d.remTok = max(0, lim.RPM-rs), max(0, lim.TPM-ts)
	d.resetReq, d.resetTok = resetReq, resetTok
	spentDay, spentMonth := s.spend.spent()
	switch {
	case lim.DailyBudgetUSD > 0 && spentDay >= lim.DailyBudgetUSD:
		d.reason, d.retry = reasonDaily, untilTomorrow(now)
	case lim.MonthlyBudgetUSD > 0 && spentMonth >= lim.MonthlyBudgetUSD:
		d.reason, d.retry = reasonMonthly, untilNextMonth(now)
	case lim.MaxParallel > 0 && s.inflight >= lim.MaxParallel:
		d.reason, d.retry = reasonParallel, time.Second
	case lim.RPM > 0 && rs+1 > lim.RPM:
		d.reason, d.retry = reasonRequests, s.req.wait(sec, now, rs, 1, lim.RPM)
	case lim.TPM > 0 && ts+est > lim.TPM:
		d.reason, d.retry = reasonTokens, s.tok.wait(sec, now, ts, est, lim.TPM)
	default:
		d.ok = true
	}
	return d
}

// commit reserves what check allowed in d (s.mu held, nothing changed
// since): one request, est tokens and one slot in flight.
func (s *slot) commit(d *decision, lim Limits, est int64, now time.Time) {
	sec := now.Unix()
	d.sec, d.est = sec, est
	s.req.add(sec, 1)
	s.tok.add(sec, est)
	s.inflight++
	d.remReq, d.remTok = max(0, d.remReq-1), max(0, d.remTok-est)
	// What was counted is no newer than sec, so the reset changes only
	// when nothing was (count's reset is 0 then, and only then).
	if d.resetReq == 0 {
		d.resetReq = time.Unix(sec+windowLen, 0).Sub(now)
	}
	if d.resetTok == 0 && est > 0 {
		d.resetTok = time.Unix(sec+windowLen, 0).Sub(now)
	}
}

// settle ends a reservation made by reserve: the slot in flight is freed
// and the reserved tokens are corrected to used.
func (l *local) settle(id string, d decision, used int64, now time.Time) {
	l.settleSpend(id, d, used, 0, now)
}

// settleSpend is settle and then spend, under one look-up and one lock
// of the slot.
func (l *local) settleSpend(id string, d decision, used int64, usd float64, now time.Time) {
	s := l.slot(id)
	var day, month string
	if usd > 0 {
		day, month = dayMonth(now)
	}
	s.mu.Lock()
	s.tok.fix(d.sec, used-d.est, now.Unix())
	if s.inflight > 0 {
		s.inflight--
	}
	if usd > 0 {
		s.spend.add(day, month, usd)
	}
	s.mu.Unlock()
}

// spend adds the cost of a finished request of key id.
func (l *local) spend(id string, usd float64, now time.Time) {
	if usd <= 0 {
		return
	}
	s := l.slot(id)
	day, month := dayMonth(now)
	s.mu.Lock()
	s.spend.add(day, month, usd)
	s.mu.Unlock()
}

// stored sets what the store says key id spent today and this month. The
// first numbers of a day or month also seed the instance's own count.
func (l *local) stored(id string, sp Spend, now time.Time) {
	s := l.slot(id)
	day, month := dayMonth(now)
	s.mu.Lock()
	s.spend.roll(day, month)
	s.spend.storedDay, s.spend.storedMonth = sp.TodayUSD, sp.MonthUSD
	if !s.spend.seededDay {
		s.spend.ownDay += sp.TodayUSD
		s.spend.seededDay = true
	}
	if !s.spend.seededMonthly {
		s.spend.ownMonth += sp.MonthUSD
		s.spend.seededMonthly = true
	}
	s.mu.Unlock()
}
