package health

import "time"

// checkState is what the active health check last said of a target.
type checkState struct {
	at  time.Time
	err string // "" when it passed
}

// CheckFailed records a failed active health check at now, described by
// what (redacted as Failure's): the target is ejected at once — a check is
// the bridge's own call, so a dead target goes before a user's request
// finds it — for the next ejection's length, unless it already is. A
// check is not traffic: the statistics (Requests1m, error rates) and the
// consecutive failures of user requests are left alone.
func (h *Breaker) CheckFailed(now time.Time, what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	what = h.set.redact(what)
	h.check = checkState{at: now, err: what}
	h.lastErr, h.lastErrAt = what, now
	if h.state == Open && now.Before(h.until) {
		return
	}
	h.ejections++
	d := min(time.Duration(h.ejections)*h.set.pol.BaseEjection, h.set.pol.MaxEjection)
	h.state, h.probing, h.until = Open, false, now.Add(d)
	h.set.log.Info("target ejected by its health check", "target", h.name(), "for", d, "ejections", h.ejections, "last_error", what)
}

// CheckPassed records a passed active health check at now: a target whose
// ejection has ended (half-open, or open past its end) is let back in,
// closed; one still within its ejection stays out until it ends, and a
// closed one keeps its count of failures.
func (h *Breaker) CheckPassed(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.check = checkState{at: now}
	if h.state == HalfOpen || h.state == Open && !now.Before(h.until) {
		h.state, h.probing, h.fails = "", false, 0
		h.set.log.Info("target closed: health check passed", "target", h.name())
	}
}
