// Package healthcheck runs the Bridge's active health checks: every
// interval, a cheap call to each checked target (a one-token completion:
// the Provider interface has no listing request) whose verdict feeds the
// target's circuit breaker (internal/health): a failure ejects the target
// before a user's request finds it dead, a pass lets a target whose
// ejection ended back in. Checks are the bridge's own calls: no usage
// record, no observer, no cost, no request statistics.
package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/llmbridge/llmbridge/internal/health"
)

// MaxTimeout bounds one check's call; a shorter interval bounds it more.
const MaxTimeout = 15 * time.Second

// Verdict judges a check's answer: a 2xx, or a client error other than a
// refused key or a rate limit (the upstream is alive and answering: a
// model that refuses max_tokens=1 is not down), passes; a connect error,
// timeout, redirect, 401, 403, 429 or 5xx fails, described by what.
func Verdict(resp *http.Response, err error) (ok bool, what string) {
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return false, "health check: timed out"
		}
		return false, "health check: " + err.Error()
	}
	switch s := resp.StatusCode; {
	case s >= 200 && s <= 299:
		return true, ""
	case s == http.StatusUnauthorized || s == http.StatusForbidden || s == http.StatusTooManyRequests || s >= 500 || s < 200 || (s >= 300 && s <= 399):
		return false, "health check: HTTP " + strconv.Itoa(s)
	}
	return true, ""
}

// Probe makes one check of a target: newReq builds the call, client sends
// it, Verdict judges the answer and br records it at now(). The answer's
// body is read (at most 64 KiB, for the connection's reuse) and closed.
// It returns the failure, or nil.
func Probe(ctx context.Context, client *http.Client, newReq func(context.Context) (*http.Request, error), br *health.Breaker, now func() time.Time) error {
	req, err := newReq(ctx)
	if err != nil {
		return fmt.Errorf("health check: building the request: %w", err)
	}
	resp, err := client.Do(req)
	if resp != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
	ok, what := Verdict(resp, err)
	if ok {
		br.CheckPassed(now())
		return nil
	}
	br.CheckFailed(now(), what)
	return errors.New(what)
}

// Check is one target checked every Interval by Run.
type Check struct {
	Name     string        // for the log: "provider/model"
	Interval time.Duration // between the end of one call and the next
	// Run makes one check; ctx ends after min(Interval, MaxTimeout).
	Run func(ctx context.Context) error
}

// Timer is the scheduler's clock; tests pass a fake one.
type Timer interface {
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// RealTimer is the wall clock.
type RealTimer struct{}

// After is time.After.
func (RealTimer) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Runner runs checks until Stop.
type Runner struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start runs each check at once and then every Interval, one goroutine a
// check, each call bounded by min(Interval, MaxTimeout). A failure is
// logged when it starts and when it ends, not at every check.
func Start(checks []Check, t Timer, log *slog.Logger) *Runner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{cancel: cancel}
	for _, c := range checks {
		r.wg.Go(func() { loop(ctx, c, t, log) })
	}
	return r
}

func loop(ctx context.Context, c Check, t Timer, log *slog.Logger) {
	failing := false
	for {
		cctx, cancel := context.WithTimeout(ctx, min(c.Interval, MaxTimeout))
		err := c.Run(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && !failing:
			log.Warn("health check failing", "target", c.Name, "error", err)
		case err == nil && failing:
			log.Info("health check passing again", "target", c.Name)
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return
		case <-t.After(c.Interval):
		}
	}
}

// Stop ends the checks and waits for them; a nil Runner is stopped.
func (r *Runner) Stop() {
	if r == nil {
		return
	}
	r.cancel()
	r.wg.Wait()
}
