package llmbridge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// CheckRetry decides whether a failed attempt is worth another one. It is
// called after every attempt that did not return a 2xx response, with
// either the response (whose body it must not read or close) or the error
// of the round trip (connect failure, timeout). A non-nil error ends the
// attempts with that error. The signature is go-retryablehttp's, so its
// policies plug in unchanged.
type CheckRetry func(ctx context.Context, resp *http.Response, err error) (bool, error)

// Backoff returns how long to wait before retry number attemptNum (0 for
// the first retry) on the same target, given the bounds of the RetryPolicy
// and the failed response (nil after a connection error). The bridge
// never waits longer than RetryPolicy.MaxRetryAfter, whatever Backoff
// returns. The signature is go-retryablehttp's.
type Backoff func(min, max time.Duration, attemptNum int, resp *http.Response) time.Duration

// statusOverloaded is Anthropic's "overloaded" status, a 503 in spirit.
const statusOverloaded = 529

// DefaultCheckRetry retries connect errors (nothing reached the upstream)
// and 429, 502, 503, 504 and 529 (Anthropic's "overloaded") responses, and
// nothing once ctx has ended. Other statuses (400, 401, 500, …) would fail
// the same way again.
func DefaultCheckRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, nil
	}
	if err != nil {
		return isConnectError(err), nil
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, statusOverloaded:
		return true, nil
	}
	return false, nil
}

// DefaultBackoff waits what the response's Retry-After (or retry-after-ms)
// asks, otherwise min·2^attemptNum capped at max, with full jitter.
func DefaultBackoff(min, max time.Duration, attemptNum int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := retryAfter(resp.Header, time.Now()); ok {
			return d
		}
	}
	return jitter(min, max, attemptNum, rand.Int64N)
}

// clock is the time source of the attempt loop; tests replace it to retry
// without sleeping.
type clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends, returning ctx's error then.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// send is the attempt loop: it walks the targets in order until one
// answers 2xx, and returns that response with the target that gave it. A
// retryable failure (the route's RetryOn, else CheckRetry) moves on to the
// next target at once; on the last target it is retried up to
// RetryPolicy.Max times with Backoff between tries, unless the upstream
// asks to wait longer than MaxRetryAfter. A failure that is not retryable
// ends the loop with the upstream's own error. Nothing here has reached
// the client yet, which is what makes trying again safe.
//
// A redirect (any 3xx; the upstream clients never follow one) is the
// upstream misbehaving, like a 502: it moves on to the next target at
// once (within the retry budget), whatever the route's RetryOn or
// CheckRetry say, and is never retried on the same target; on the last
// target the client gets the 502 of redirectError.
//
// Every attempt feeds the target's breaker (internal/health) and its key's
// state; a target ejected meanwhile, or whose half-open probe another
// request holds, is skipped. Going past the first attempt takes a place
// in the retry budget; without one the last failure is the answer.
func (c *call) send(targets []target) (*http.Response, error) {
	if !c.inSend {
		c.inSend = true
		c.b.health.Enter() // released by end (release)
	}
	var lastErr error
	for i, t := range targets {
		last := i == len(targets)-1
		for try := 0; ; try++ {
			if !c.retryPlace() {
				return nil, lastErr // the budget is spent: no retry storm
			}
			start := c.b.clock.Now()
			if !t.h.Begin(start) {
				break // ejected meanwhile, or another request probes it
			}
			resp, err := c.sendTo(t)
			now := c.b.clock.Now()
			if err == nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
				c.answered(t, now.Sub(start), now, targets[i+1:])
				return resp, nil
			}
			t.h.Release()
			var buildErr *APIError
			if errors.As(err, &buildErr) { // the request could not be built: no upstream involved
				t.h.Abandon()
				return nil, err
			}
			if err == nil && isRedirect(resp.StatusCode) {
				lastErr = c.redirected(t, now, resp)
				if last {
					return nil, lastErr
				}
				break // the next target, never this one again
			}
			again, final := c.retryable(t, now, resp, err, last, try)
			if !again {
				return nil, final
			}
			lastErr = c.lastAnswer(t, resp, err)
			if !last {
				break // fail over at once: another target may be healthy
			}
			if err := c.backoff(try, resp); err != nil {
				return nil, c.upstreamError(t, err) // cancelled or out of time while waiting
			}
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	return nil, &APIError{Status: http.StatusServiceUnavailable, Type: ErrorTypeServer, Code: "targets_unavailable", RetryAfter: "1",
		Message: fmt.Sprintf("every target for model `%s` is failing and ejected for now", c.req.Model)}
}

// retryPlace takes the call's place in the retry budget when it is about
// to go past its first attempt (one place, whatever the number of
// attempts), and reports false when the budget is spent.
func (c *call) retryPlace() bool {
	if c.sent == 0 || c.retried {
		return true
	}
	if !c.b.health.StartRetry() {
		return false
	}
	c.retried = true
	return true
}

// sendTo makes one attempt at t, counting it in the record and in t's
// requests in flight.
func (c *call) sendTo(t target) (*http.Response, error) {
	if c.sent > 0 {
		c.rec.Retries++
	}
	c.sent++
	t.h.Acquire()
	return c.attempt(t)
}

// answered books t's 2xx answer, which came after latency at now: t's
// breaker closes, the call holds t (and its in-flight count until
// release) and the targets after it (rest, for a failover before commit).
func (c *call) answered(t target, latency time.Duration, now time.Time, rest []target) {
	t.h.Success(now, latency)
	c.target = t
	c.rest = rest
	c.rec.Provider, c.rec.UpstreamModel, c.rec.ProviderKey = t.up.name, t.model, t.key.ID()
}

// retryable judges a failed attempt at t (judge) and decides whether
// another may follow: the route's RetryOn, else CheckRetry, decides; a
// refused key moves on to the next target whatever they say; on the last
// target, up to RetryPolicy.Max retries unless the upstream asks to wait
// longer than MaxRetryAfter. When none may follow, final is the error to
// answer: the upstream's own, or the failure's.
func (c *call) retryable(t target, now time.Time, resp *http.Response, err error, last bool, try int) (again bool, final error) {
	pol := &c.b.cfg.retry
	kind := c.judge(t, now, resp, err)
	retry, cerr := pol.checkRetry(c.ctx, resp, err)
	if c.retryOn != 0 && cerr == nil {
		retry = kind&c.retryOn != 0 && c.ctx.Err() == nil
	}
	if kind == failAuth && !last {
		retry = true // the bridge's key, not the request: try the others
	}
	if retry && cerr == nil && last {
		retry = try < pol.Max && !c.tooPatient(resp)
	}
	if retry && cerr == nil {
		return true, nil
	}
	if resp != nil && cerr == nil {
		return false, c.decodeError(t, resp)
	}
	drain(resp)
	return false, c.upstreamError(t, errors.Join(err, cerr))
}

// lastAnswer is the error of a failed attempt that will be tried again
// elsewhere or later: the answer if nothing else works. resp is read and
// closed.
func (c *call) lastAnswer(t target, resp *http.Response, err error) error {
	if resp != nil {
		return c.decodeError(t, resp)
	}
	return c.upstreamError(t, err)
}

// backoff waits before retry number try on the same target, at most
// RetryPolicy.MaxRetryAfter; it returns the context's error when the call
// ends meanwhile.
func (c *call) backoff(try int, resp *http.Response) error {
	pol := &c.b.cfg.retry
	wait := min(pol.backoff(pol.MinBackoff, pol.MaxBackoff, try, resp), pol.MaxRetryAfter)
	return c.b.clock.Sleep(c.ctx, wait)
}

// isRedirect reports whether status is a redirect (3xx). The upstream
// clients do not follow redirects (refuseRedirect), so every 3xx reaches
// the attempt loop; none is an answer.
func isRedirect(status int) bool { return status >= 300 && status <= 399 }

// redirected handles a target that answered with a redirect: the response
// is drained (discarded, for the connection's reuse) and closed, its body
// and Location reaching neither the client nor the log; the target's
// breaker counts a failure as for a 502; the error to answer is returned.
// The target's key is not at fault.
func (c *call) redirected(t target, now time.Time, resp *http.Response) *APIError {
	drain(resp)
	t.h.Failure(now, "HTTP "+strconv.Itoa(resp.StatusCode)+" (redirect, not followed)", true)
	c.b.log.Warn("upstream answered with a redirect; not followed", "request_id", c.rec.RequestID, "provider", t.up.name, "status", resp.StatusCode)
	return redirectError(t.up.name, resp.StatusCode)
}

// judge classifies a failed attempt and feeds the target's breaker and
// its key's state: connect errors, timeouts and 5xx count towards
// ejection; 429 rests the key but is no health failure (as in Envoy's
// outlier detection: a rate-limit burst must not take a route's only
// target out, nor waste the Retry-After wait before the last attempt);
// 401/403 take the key out; other 4xx prove the upstream alive.
func (c *call) judge(t target, now time.Time, resp *http.Response, err error) failKind {
	k := failureKind(c.parent, resp, err)
	pol := &c.b.cfg.breaker
	switch k {
	case failConnect, failTimeout, fail5xx:
		t.h.Failure(now, failureText(resp, err), true)
	case fail429:
		t.h.Failure(now, failureText(resp, err), false)
		d, ok := retryAfter(resp.Header, now)
		if !ok {
			d = pol.KeyCooldown
		}
		t.key.CoolDown(now, min(d, pol.MaxEjection))
	case failAuth:
		t.h.Failure(now, failureText(resp, err), false)
		if len(t.up.keys) > 1 {
			t.key.TakeOut(c.b.log, resp.StatusCode)
		}
	case failClient:
		t.h.Neutral(now)
	default:
		if err != nil && c.parent.Err() == nil {
			t.h.Failure(now, failureText(resp, err), true) // reset, EOF: the upstream broke
		} else {
			t.h.Abandon() // the client went away: nothing learnt
		}
	}
	return k
}

// failureKind names a failed attempt's kind, as RetryOn does.
func failureKind(parent context.Context, resp *http.Response, err error) failKind {
	if err != nil {
		switch {
		case parent.Err() != nil:
			return failOther
		case errors.Is(err, errHeaderTimeout) || isTimeout(err):
			return failTimeout
		case isConnectError(err):
			return failConnect
		}
		return failOther
	}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests:
		return fail429
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return failAuth
	case s >= 500:
		return fail5xx
	}
	return failClient
}

// failureText summarises a failure for the health report.
func failureText(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return "HTTP " + strconv.Itoa(resp.StatusCode)
}

// release gives back what send holds: the call's place among active
// requests and in the retry budget, and the answering target's in-flight
// count. end calls it; it is idempotent.
func (c *call) release() {
	if !c.inSend {
		return
	}
	c.inSend = false
	c.b.health.Leave()
	if c.retried {
		c.b.health.EndRetry()
	}
	if c.target.h != nil {
		c.target.h.Release()
	}
}

// tooPatient reports whether a failed response asks to wait longer than
// RetryPolicy.MaxRetryAfter: the client then gets it at once.
func (c *call) tooPatient(resp *http.Response) bool {
	if resp == nil {
		return false
	}
	d, ok := retryAfter(resp.Header, c.b.clock.Now())
	return ok && d > c.b.cfg.retry.MaxRetryAfter
}

// jitter returns a random duration in [0, min(max, min·2^attempt)].
func jitter(min, max time.Duration, attempt int, randN func(int64) int64) time.Duration {
	ceil := max
	if attempt < 30 {
		ceil = minDur(max, min<<attempt)
	}
	if ceil <= 0 {
		return 0
	}
	return time.Duration(randN(int64(ceil) + 1))
}

// retryAfter parses retry-after-ms, then Retry-After in seconds or as an
// HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func minDur(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}
