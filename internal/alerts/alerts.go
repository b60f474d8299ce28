package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/metrics"
)

// Budget is one key's spend and budget, for key_budget rules.
type Budget struct {
	KeyID    string  // the key's fingerprint (llmbridge.KeyID), never the key
	Name     string  // a human name for messages; may be empty
	SpentUSD float64 // spent in the budget's current period
	LimitUSD float64 // the budget; <= 0 means none
}

// Options are an Alerter's sources and plumbing. Zero values take the
// defaults.
type Options struct {
	// Interval overrides Config.Interval (tests).
	Interval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Client posts to the webhooks (default: a client with a 10s timeout).
	Client *http.Client
	// Logger reports webhook failures (default: discard).
	Logger *slog.Logger
	// RequestLogDropped reads the request log's dropped-records counter
	// for request_log_drops rules; nil: they never fire.
	RequestLogDropped func() int64
	// Budgets lists the keys with budgets for key_budget rules. It is the
	// hook for the virtual keys' budgets; nil (no budget source yet): those
	// rules never fire.
	Budgets func() []Budget
	// Ejected lists the routing targets taken out of service now
	// ("provider/model") for target_ejected rules. It is the hook for the
	// router's health checks; nil (no router with health yet): those rules
	// never fire.
	Ejected func() []string
}

// Notification is the JSON a webhook of format json receives.
type Notification struct {
	Status    string    `json:"status"` // "firing" or "resolved"
	Alert     string    `json:"alert"`  // the rule's name
	Kind      string    `json:"kind"`
	Instance  string    `json:"instance,omitempty"` // provider, key id or target; empty for request_log_drops
	Value     string    `json:"value"`              // what was measured, e.g. "37.5%"
	Threshold string    `json:"threshold,omitempty"`
	Message   string    `json:"message"` // one line for people: the slack format sends only this
	Time      time.Time `json:"time"`
}

// Alerter evaluates alert rules and sends what fires to webhooks. It is
// an llmbridge.Observer (End), safe for concurrent use; End only counts
// under a mutex. Start runs the evaluation loop; Close stops it.
type Alerter struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	cfg      Config
	keep     time.Duration // longest window of the rules
	byProv   map[string]*series
	drops    []counterSample
	state    map[alertKey]*alertState
	stop     context.CancelFunc
	done     chan struct{}
	interval time.Duration
}

type alertKey struct{ rule, instance string }

type alertState struct {
	firing   bool      // as of the last evaluation
	notified bool      // a firing message went out for this episode
	lastSent time.Time // of the last firing message
}

// New returns an Alerter for cfg (validated; see Config.Validate).
func New(cfg Config, o Options) (*Alerter, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Client == nil {
		// A webhook that redirects does not get its body posted elsewhere.
		o.Client = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Alerter{opts: o, log: o.Logger, byProv: map[string]*series{}, state: map[alertKey]*alertState{}}
	if err := a.Configure(cfg); err != nil {
		return nil, err
	}
	return a, nil
}

// Configure replaces the rules and webhooks (a configuration reload).
// The windows are kept; alerts of rules that are gone are forgotten
// without a resolved message. The interval of a running loop does not
// change.
func (a *Alerter) Configure(cfg Config) error {
	c, err := cfg.compile()
	if err != nil {
		return err
	}
	keep := resolution
	for _, r := range c.Rules {
		keep = max(keep, r.Window)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cfg, a.keep = c, keep+resolution
	for k := range a.state {
		if !slices.ContainsFunc(c.Rules, func(r Rule) bool { return r.Name == k.rule }) {
			delete(a.state, k)
		}
	}
	return nil
}

// End counts a finished request into its provider's window: whether it
// failed upstream (every metrics.ErrorKind but 4xx, the client's own
// mistakes) and a stream's time to first token. Requests that were never
// routed, whose client went away, or that were refused before their
// caller was known (Unauthenticated: anyone can send those, so they are
// neither traffic nor failures of a provider) are not counted.
func (a *Alerter) End(r llmbridge.UsageRecord) {
	if r.Provider == "" || r.Unauthenticated || r.Status == llmbridge.StatusClientClosedRequest {
		return
	}
	kind := metrics.ErrorKind(&r)
	now := a.opts.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.byProv[r.Provider]
	if s == nil {
		s = &series{}
		a.byProv[r.Provider] = s
	}
	sl := s.current(now)
	sl.total++
	if kind != "" && kind != "4xx" {
		sl.failed++
	}
	if r.Stream && r.TTFT > 0 {
		if sl.ttft == nil {
			sl.ttft = make([]uint32, len(ttftBins))
		}
		sl.ttft[ttftBin(r.TTFT.Seconds())]++
		sl.streams++
	}
}

// Start runs the evaluation loop every interval until Close.
func (a *Alerter) Start() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stop != nil {
		return
	}
	a.interval = a.opts.Interval
	if a.interval <= 0 {
		a.interval = a.cfg.Interval
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stop, a.done = cancel, make(chan struct{})
	go a.loop(ctx, a.interval, a.done)
}

func (a *Alerter) loop(ctx context.Context, every time.Duration, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.Evaluate(ctx)
		}
	}
}

// Close stops the loop started by Start and waits for it (and for a
// webhook call in progress, which the stop cancels).
func (a *Alerter) Close() {
	a.mu.Lock()
	stop, done := a.stop, a.done
	a.stop = nil
	a.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// measure is one instance's reading of a rule.
type measure struct {
	instance string
	value    string
	firing   bool
	detail   string // for the message
}

// Evaluate evaluates every rule once and sends the messages due. The
// loop calls it every interval; tests call it directly.
func (a *Alerter) Evaluate(ctx context.Context) {
	now := a.opts.Now()
	var dropped int64
	if a.opts.RequestLogDropped != nil {
		dropped = a.opts.RequestLogDropped()
	}
	var budgets []Budget
	if a.opts.Budgets != nil {
		budgets = a.opts.Budgets()
	}
	var ejected []string
	if a.opts.Ejected != nil {
		ejected = a.opts.Ejected()
	}

	a.mu.Lock()
	for p, s := range a.byProv {
		if s.prune(now, a.keep); len(s.slots) == 0 {
			delete(a.byProv, p)
		}
	}
	if a.opts.RequestLogDropped != nil {
		a.drops = append(a.drops, counterSample{now, dropped})
		i := 0
		for i < len(a.drops)-1 && a.drops[i+1].at.Before(now.Add(-a.keep)) {
			i++
		}
		a.drops = a.drops[i:]
	}
	var out []outgoing
	for _, r := range a.cfg.Rules {
		ms := a.measure(r, now, budgets, ejected)
		out = append(out, a.transition(r, ms, now)...)
	}
	hooks := a.cfg.Webhooks
	a.mu.Unlock()

	for _, o := range out {
		a.send(ctx, hooks, o)
	}
}

// measure reads rule r for each of its instances. a.mu is held.
func (a *Alerter) measure(r Rule, now time.Time, budgets []Budget, ejected []string) []measure {
	var out []measure
	switch r.Kind {
	case KindErrorRate, KindTTFTP95:
		for p, s := range a.byProv {
			if r.Provider != "" && p != r.Provider {
				continue
			}
			w := s.window(now, r.Window)
			if r.Kind == KindErrorRate {
				if w.total < max(r.MinRequests, 1) {
					continue
				}
				pct := 100 * float64(w.failed) / float64(w.total)
				out = append(out, measure{p, fmtNum(pct) + "%", pct > r.threshold,
					fmt.Sprintf("provider %s: %s%% of requests failed over %s (%d of %d)", p, fmtNum(pct), r.Window, w.failed, w.total)})
			} else {
				if w.streams < max(r.MinRequests, 1) {
					continue
				}
				p95 := w.p95()
				out = append(out, measure{p, fmtDur(p95), p95 > r.threshold,
					fmt.Sprintf("provider %s: p95 time to first token %s over %s (%d streams)", p, fmtDur(p95), r.Window, w.streams)})
			}
		}
	case KindRequestLogDrops:
		if a.opts.RequestLogDropped != nil {
			n := increase(a.drops, now, r.Window)
			m := measure{"", strconv.FormatInt(n, 10), float64(n) > r.threshold, fmt.Sprintf("%d request log records dropped over %s", n, r.Window)}
			if m.firing {
				m.detail += " (the log's queue was full: is the disk slow or full?)"
			}
			out = append(out, m)
		}
	case KindKeyBudget:
		for _, b := range budgets {
			if b.LimitUSD <= 0 {
				continue
			}
			pct := 100 * b.SpentUSD / b.LimitUSD
			name := b.KeyID
			if b.Name != "" {
				name = b.Name + " (" + b.KeyID + ")"
			}
			out = append(out, measure{b.KeyID, fmtNum(pct) + "%", pct >= r.threshold,
				fmt.Sprintf("key %s has spent %s%% of its budget ($%s of $%s)", name, fmtNum(pct), fmtNum(b.SpentUSD), fmtNum(b.LimitUSD))})
		}
	case KindTargetEjected:
		for _, t := range ejected {
			out = append(out, measure{t, "ejected", true, "target " + t + " was taken out of service"})
		}
	}
	return out
}

// outgoing is a message to send to a rule's webhooks.
type outgoing struct {
	rule Rule
	n    Notification
}

// transition moves rule r's alerts to what was measured and returns the
// messages due: firing when an alert starts (or keeps) firing and its
// cooldown has passed since its last firing message, resolved when an
// alert that was announced stops. a.mu is held.
func (a *Alerter) transition(r Rule, ms []measure, now time.Time) []outgoing {
	var out []outgoing
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m.instance] = true
		k := alertKey{r.Name, m.instance}
		st := a.state[k]
		if !m.firing {
			if st != nil && st.firing {
				st.firing = false
				if st.notified {
					st.notified = false
					out = append(out, a.note(r, m, "resolved", now))
				}
			}
			continue
		}
		if st == nil {
			st = &alertState{}
			a.state[k] = st
		}
		st.firing = true
		if st.lastSent.IsZero() || now.Sub(st.lastSent) >= r.Cooldown {
			st.lastSent, st.notified = now, true
			out = append(out, a.note(r, m, "firing", now))
		}
	}
	// An instance with nothing to measure (no traffic left in the window,
	// a key no longer listed, a target back in service) has stopped firing.
	for k, st := range a.state {
		if k.rule != r.Name || seen[k.instance] {
			continue
		}
		if st.firing && st.notified {
			out = append(out, a.note(r, measure{instance: k.instance, value: "n/a", detail: "no longer measured"}, "resolved", now))
		}
		st.firing, st.notified = false, false
		if now.Sub(st.lastSent) >= r.Cooldown {
			delete(a.state, k)
		}
	}
	return out
}

func (a *Alerter) note(r Rule, m measure, status string, now time.Time) outgoing {
	word := map[string]string{"firing": "FIRING", "resolved": "RESOLVED"}[status]
	return outgoing{rule: r, n: Notification{Status: status, Alert: r.Name, Kind: r.Kind, Instance: m.instance, Value: m.value,
		Threshold: r.Above, Time: now.UTC(), Message: fmt.Sprintf("[%s] %s: %s", word, r.Name, m.detail)}}
}

// send posts o to its rule's webhooks, logging failures by webhook name
// and host only.
func (a *Alerter) send(ctx context.Context, hooks []Webhook, o outgoing) {
	for _, h := range hooks {
		if len(o.rule.Webhooks) > 0 && !slices.Contains(o.rule.Webhooks, h.Name) {
			continue
		}
		var body []byte
		if h.Format == "slack" {
			body, _ = json.Marshal(map[string]string{"text": o.n.Message})
		} else {
			body, _ = json.Marshal(o.n)
		}
		if err := a.post(ctx, h.URL, body); err != nil {
			a.log.Warn("alert webhook failed", "webhook", h.Name, "host", host(h.URL), "alert", o.n.Alert, "status", o.n.Status, "err", err)
		}
	}
}

// errStatus is a webhook's non-2xx answer.
type errStatus int

func (e errStatus) Error() string { return "answered HTTP " + strconv.Itoa(int(e)) }

// post sends body; errors name no URL (a *url.Error's URL is stripped).
func (a *Alerter) post(ctx context.Context, target string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("bad webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "llmbridge-alerts")
	resp, err := a.opts.Client.Do(req)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			return ue.Err
		}
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errStatus(resp.StatusCode)
	}
	return nil
}

func host(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return "?"
}

// fmtNum formats a number with at most two decimals.
func fmtNum(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

// fmtDur formats seconds as a duration rounded to the millisecond.
func fmtDur(sec float64) string {
	if math.IsInf(sec, 1) {
		return ">" + fmtDur(ttftBins[len(ttftBins)-2])
	}
	return time.Duration(sec * float64(time.Second)).Round(time.Millisecond).String()
}
