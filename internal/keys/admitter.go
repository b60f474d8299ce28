package keys

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/usage"
	"github.com/redis/go-redis/v9"
)

// Options configure an Admitter. Every field may be zero.
type Options struct {
	// Store holds the virtual keys; nil: only the access keys are known.
	Store *Store
	// AccessKeys are the static keys (ACCESS_API_KEYS). Their KeyID is
	// llmbridge.KeyID(key). Without access keys the Admitter is open, as
	// the Bridge is without WithAccessKeys: a request without a known key
	// passes anonymously, unless it presents an "sk-lb-" secret that is
	// not a live virtual key (401).
	AccessKeys []string
	// Policies are the models and limits of access keys, by key_id (the
	// YAML file's keys:). An access key without one may call anything
	// without limits.
	Policies map[string]Policy
	// Tokens counts prompts for the TPM reservation; nil: a new counter.
	Tokens *llmbridge.TokenCounter
	// Prices turn finished requests into spend for the budgets; nil: the
	// built-in prices. A key with a budget may not call a model without a
	// price (see Priced): its spend could not be counted.
	Prices usage.Prices
	// Priced reports whether every target the client's model name can
	// reach has a price; Admit refuses a budgeted key's request when it
	// returns false (403 model_not_priced). Nil: the model name is looked
	// up in the price table as given (provider/model, or a bare name
	// priced under any provider: usage.Prices.Priced), so a route name
	// counts as unpriced. It is called on the request path, only for keys
	// with a budget, and must be safe for concurrent use.
	Priced func(model string) bool
	// Targets returns where the Bridge sends the client's model name
	// (llmbridge.Bridge.Targets). A key's model patterns allow a name they
	// match as sent, or one whose every target ("provider/model") they
	// match: "anthropic/*" allows the bare "claude-opus-5-5" that its
	// family routes there, and a glob in the name itself widens nothing.
	// Nil: only the name as sent is matched. It is called on the request
	// path for keys with models and must be safe for concurrent use.
	Targets func(model string) []llmbridge.Target
	// Redis, when set, holds the limits every replica shares. Nil: the
	// limits are exact in this process.
	Redis *redis.Client
	// RedisPrefix starts the Redis keys (default "llmbridge:").
	RedisPrefix string
	// Replicas is the expected number of replicas; while Redis is
	// unreachable each limit is divided by it (default 1).
	Replicas int
	// LeaseTTL bounds how long a crashed replica's requests hold
	// max_parallel slots in Redis (default 30 minutes, the longest
	// stream).
	LeaseTTL time.Duration
	// Poll is how often the store's key version is checked (default
	// 250ms: a change is seen everywhere within a second). It is the
	// fallback: the process that makes a change applies it at once
	// (Admitter.Changed), and with Redis the other replicas hear of it
	// at once over pub/sub.
	Poll time.Duration
	// SpendRefresh is how often the spend of budgeted keys is read from
	// the store (default 5s).
	SpendRefresh time.Duration
	// Logger gets the fallback and reload messages; nil discards.
	Logger *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// Admitter is the llmbridge.Admitter of access keys and virtual keys with
// their models, limits and budgets. Use it instead of WithAccessKeys
// (it does that job too). It is safe for concurrent use; Close stops its
// background work.
type Admitter struct {
	o       Options
	snap    atomic.Pointer[snapshot]
	backend backend
	now     func() time.Time
	log     *slog.Logger

	mu       sync.Mutex // serialises snapshot rebuilds
	virtual  []*Key
	teams    []*Team
	access   []string
	policies map[string]Policy
	version  int64
	prices   atomic.Pointer[usage.Prices]

	unpricedMu sync.Mutex      // guards unpriced
	unpriced   map[string]bool // provider/model settled unpriced, logged once

	node string // this Admitter's id in change messages (notify.go)

	stop chan struct{}
	wg   sync.WaitGroup
}

// snapshot is what Admit reads: immutable, swapped whole.
type snapshot struct {
	byHash map[[sha256.Size]byte]*entry
	byID   map[string]*entry // virtual keys with a team or an owner, for Attribution
	open   bool
	ids    []string    // key ids with a budget, for the spend refresh
	teams  []*teamInfo // teams with a budget, for the spend refresh
}

type entry struct {
	id     string
	policy Policy
	key    *Key      // nil for an access key
	team   *teamInfo // nil: no team
}

// teamInfo is a team as Admit checks it. A key whose team is not in the
// store (deleted under a revoked key, or by hand) has one with missing
// set, and is refused: its team's budget could not hold.
type teamInfo struct {
	id, name string
	policy   Policy
	missing  bool
}

// backend is where limits are kept: in process, or in Redis.
type backend interface {
	reserve(ctx context.Context, id string, lim Limits, est int64, now time.Time) decision
	// reservePair reserves for a key and its team, both or neither
	// (local.reservePair).
	reservePair(ctx context.Context, kid string, kl Limits, tid string, tl Limits, est int64, now time.Time) (kd, td decision)
	settle(id string, d decision, used int64, usd float64, now time.Time)
	stored(ctx context.Context, id string, sp Spend, now time.Time)
	status() (mode, reason string)
	close()
}

type inProcess struct{ *local }

func (b inProcess) reserve(_ context.Context, id string, lim Limits, est int64, now time.Time) decision {
	return b.local.reserve(id, lim, est, now)
}

func (b inProcess) reservePair(_ context.Context, kid string, kl Limits, tid string, tl Limits, est int64, now time.Time) (decision, decision) {
	return b.local.reservePair(kid, kl, tid, tl, est, now)
}

func (b inProcess) settle(id string, d decision, used int64, usd float64, now time.Time) {
	b.local.settleSpend(id, d, used, usd, now)
}

func (b inProcess) stored(_ context.Context, id string, sp Spend, now time.Time) {
	b.local.stored(id, sp, now)
}
func (b inProcess) status() (string, string) { return "in-process", "" }
func (b inProcess) close()                   {}

func (s *shared) stored(ctx context.Context, id string, sp Spend, now time.Time) {
	s.fallback.stored(id, sp, now)
	s.seed(ctx, id, sp, now)
}

// NewAdmitter loads the keys and starts watching the store for changes.
// Close it when done.
func NewAdmitter(ctx context.Context, o Options) (*Admitter, error) {
	if o.Tokens == nil {
		o.Tokens = llmbridge.NewTokenCounter()
	}
	if o.Prices == nil {
		o.Prices = usage.DefaultPrices()
	}
	if o.RedisPrefix == "" {
		o.RedisPrefix = "llmbridge:"
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 30 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.SpendRefresh <= 0 {
		o.SpendRefresh = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &Admitter{o: o, now: o.Now, log: o.Logger, node: newNode(), stop: make(chan struct{})}
	a.prices.Store(&o.Prices)
	a.access, a.policies = o.AccessKeys, o.Policies
	if o.Redis != nil {
		a.backend = newShared(o.Redis, o.RedisPrefix, o.Replicas, o.LeaseTTL, o.Logger)
	} else {
		a.backend = inProcess{newLocal()}
	}
	if err := a.reload(ctx, true); err != nil {
		a.backend.close()
		return nil, err
	}
	a.refreshSpend(ctx)
	if o.Store != nil {
		a.wg.Go(a.watch)
		if o.Redis != nil {
			a.wg.Go(a.listen) // notify.go
		}
	}
	return a, nil
}

// Close stops watching the store and the Redis change channel, and sends
// what Redis is still owed.
func (a *Admitter) Close() error {
	close(a.stop)
	a.wg.Wait()
	a.backend.close()
	return nil
}

// Status says where the limits are kept: "in-process", "redis", or
// "per-instance" while Redis is unreachable (reason says why).
func (a *Admitter) Status() (mode, reason string) { return a.backend.status() }

// SetAccessKeys replaces the access keys and their policies (a reloaded
// configuration). Limits already counted stay.
func (a *Admitter) SetAccessKeys(keys []string, policies map[string]Policy) {
	a.mu.Lock()
	a.access, a.policies = keys, policies
	a.rebuild()
	a.mu.Unlock()
}

// SetPrices replaces the prices budgets are charged with.
func (a *Admitter) SetPrices(p usage.Prices) { a.prices.Store(&p) }

// reload reads the keys again when the store's version changed (or
// always, when force).
func (a *Admitter) reload(ctx context.Context, force bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.o.Store != nil {
		v, err := a.o.Store.Version(ctx)
		if err != nil {
			return err
		}
		if v != a.version || force {
			list, err := a.o.Store.List(ctx)
			if err != nil {
				return err
			}
			teams, err := a.o.Store.Teams(ctx)
			if err != nil {
				return err
			}
			a.virtual, a.teams, a.version = list, teams, v
		} else {
			return nil
		}
	}
	a.rebuild()
	return nil
}

// rebuild makes a new snapshot (a.mu held).
func (a *Admitter) rebuild() {
	s := &snapshot{byHash: make(map[[sha256.Size]byte]*entry, len(a.access)+len(a.virtual)), byID: map[string]*entry{}, open: len(a.access) == 0}
	for _, k := range a.access {
		id := llmbridge.KeyID(k)
		e := &entry{id: id, policy: a.policies[id]}
		s.byHash[sha256.Sum256([]byte(k))] = e
		if e.policy.budgeted() {
			s.ids = append(s.ids, id)
		}
	}
	teams := a.teamInfos(s) // teamadmit.go
	for _, k := range a.virtual {
		e := &entry{id: k.ID, policy: k.Policy, key: k}
		if k.TeamID != "" {
			if e.team = teams[k.TeamID]; e.team == nil {
				e.team = &teamInfo{id: k.TeamID, missing: true}
			}
		}
		s.byHash[k.hash] = e
		if k.TeamID != "" || k.Owner != "" {
			s.byID[k.ID] = e
		}
		if k.budgeted() && k.RevokedAt == nil {
			s.ids = append(s.ids, k.ID)
		}
	}
	a.snap.Store(s)
}

// watch polls the key version and refreshes the spend until Close.
func (a *Admitter) watch() {
	poll := time.NewTicker(a.o.Poll)
	defer poll.Stop()
	spend := time.NewTicker(a.o.SpendRefresh)
	defer spend.Stop()
	failing := false
	for {
		select {
		case <-a.stop:
			return
		case <-poll.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := a.reload(ctx, false)
			cancel()
			if err != nil && !failing {
				a.log.Warn("virtual keys: reading the store failed; keeping the keys loaded", "error", err)
			} else if err == nil && failing {
				a.log.Info("virtual keys: the store answers again")
			}
			failing = err != nil
		case <-spend.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			a.refreshSpend(ctx)
			cancel()
		}
	}
}

// refreshSpend hands the store's spend of budgeted keys to the backend.
func (a *Admitter) refreshSpend(ctx context.Context) {
	s := a.snap.Load()
	if a.o.Store == nil {
		return
	}
	now := a.now()
	if len(s.ids) > 0 {
		spend, err := a.o.Store.Spend(ctx, now)
		if err != nil {
			a.log.Warn("virtual keys: reading the spend failed", "error", err)
			return
		}
		for _, id := range s.ids {
			a.backend.stored(ctx, id, spend[id], now)
		}
	}
	a.refreshTeamSpend(ctx, s, now) // teamadmit.go
}

// The Admitter tells who is calling from the headers alone, before the
// Bridge reads the body.
var _ llmbridge.Authenticator = (*Admitter)(nil)

// caller finds who is calling: the entry of the key r presents, or nil
// for an anonymous caller of an open Admitter (no access keys) who
// presents no "sk-lb-" secret. An unknown, revoked or expired key is the
// 401 of errUnauthorized. Admit and Authenticate both decide through it,
// so they cannot disagree.
func (a *Admitter) caller(r *llmbridge.Request, now time.Time) (*entry, error) {
	s := a.snap.Load()
	cred := r.Credential()
	var e *entry
	if cred != "" {
		// Hashed from a copy on the stack: []byte(cred) is on the heap for
		// a key longer than 32 bytes, as every virtual key is.
		var buf [128]byte
		e = s.byHash[sha256.Sum256(append(buf[:0], cred...))]
	}
	switch {
	case e == nil && s.open && !strings.HasPrefix(cred, SecretPrefix):
		return nil, nil
	case e == nil, e.key != nil && !e.key.Active(now):
		return nil, errUnauthorized()
	}
	return e, nil
}

// Authenticate implements llmbridge.Authenticator: the who-is-calling
// part of Admit, from the headers alone (401 for an unknown, revoked or
// expired key; in open mode, nil for a caller without a known key unless
// it presents an "sk-lb-" secret that is not a live key). It looks at no
// model, reserves nothing and does not set r.KeyID: Admit, after the body
// is read, does all of that and checks the key again (a key revoked in
// between is refused there).
func (a *Admitter) Authenticate(_ context.Context, r *llmbridge.Request) error {
	if r.InProcess() {
		return nil // the program itself
	}
	_, err := a.caller(r, a.now())
	return err
}

// Admit implements llmbridge.Admitter: who is calling (401 for an unknown,
// revoked or expired key), may they call this model (403
// model_not_allowed; for a key with a budget, 403 model_not_priced when
// the model has no price, see Options.Priced), and do their limits and
// budgets allow it now (429 rate_limit_exceeded or budget_exceeded, with
// Retry-After). For a key of a team, the team's models, limits and
// budgets must allow it too, and the refusal names the team
// (teamadmit.go). Admitted and refused requests of a key with limits get
// the x-ratelimit-* headers.
func (a *Admitter) Admit(ctx context.Context, r *llmbridge.Request) (llmbridge.Ticket, error) {
	if r.InProcess() {
		return nil, nil // the program itself
	}
	now := a.now()
	e, err := a.caller(r, now)
	if e == nil {
		return nil, err // anonymous (err nil) or refused
	}
	r.KeyID = e.id
	if r.Format == "models" {
		return nil, nil // listing models costs nothing
	}
	if r.Model != "" && !a.allows(&e.policy, r.Model) {
		return nil, &llmbridge.APIError{Status: http.StatusForbidden, Type: llmbridge.ErrorTypeInvalidRequest, Code: "model_not_allowed", Param: "model",
			Message: fmt.Sprintf("This key may not use the model `%s`; it may use %s.", r.Model, strings.Join(e.policy.Models, ", "))}
	}
	if e.team != nil {
		return a.admitTeam(ctx, r, e, now) // teamadmit.go
	}
	lim := e.policy.Limits
	if lim.IsZero() {
		return nil, nil
	}
	// Counting tokens is not billed, so a budget needs no price for it.
	if lim.budgeted() && r.Model != "" && r.Format != "anthropic_count_tokens" && !a.priced(r.Model) {
		return nil, errNotPriced(r.Model, "this key has")
	}
	var est int64
	if lim.TPM > 0 {
		var err error
		if est, err = a.estimate(r); err != nil {
			return nil, err
		}
	}
	t := &ticket{a: a, id: e.id, lim: lim}
	t.d = a.backend.reserve(ctx, e.id, lim, est, now)
	if !t.d.ok {
		return t, refusal("key "+e.id, lim, t.d)
	}
	return t, nil
}

// allows reports whether p lets the key call model: the name as sent, or
// every provider/model it resolves to (Options.Targets).
func (a *Admitter) allows(p *Policy, model string) bool {
	if p.Allows(model) {
		return true
	}
	if a.o.Targets == nil {
		return false
	}
	ts := a.o.Targets(model)
	for _, t := range ts {
		if !p.Allows(t.Provider + "/" + t.Model) {
			return false
		}
	}
	return len(ts) > 0
}

// priced reports whether a budget can count the cost of model (the
// client's name for it): Options.Priced, or the price table.
func (a *Admitter) priced(model string) bool {
	if a.o.Priced != nil {
		return a.o.Priced(model)
	}
	return (*a.prices.Load()).Priced(model)
}

// errNotPriced refuses a budgeted key's request to a model without a
// price: its spend could not be counted, and an unpriced model must not
// be a way around the budget.
// who says whose budget: "this key has", "this key's team has".
func errNotPriced(model, who string) *llmbridge.APIError {
	return &llmbridge.APIError{Status: http.StatusForbidden, Type: llmbridge.ErrorTypeInvalidRequest, Code: "model_not_priced", Param: "model",
		Message: fmt.Sprintf("The model `%s` has no price, and %s a budget that could not count its cost. "+
			"The bridge's operator can set its price under `prices:` in the YAML configuration file (LLMBRIDGE_CONFIG), or remove the budget.", model, who)}
}

// estimate counts the request's prompt for the TPM reservation.
func (a *Admitter) estimate(r *llmbridge.Request) (int64, error) {
	// The body's size, not a tokenization: admission runs on every request
	// and the real usage corrects the reservation at Settle.
	return int64(r.PromptTokensEstimate()), nil
}

func errUnauthorized() *llmbridge.APIError {
	// Word for word the Bridge's own: a revoked key looks like any unknown one.
	return &llmbridge.APIError{Status: http.StatusUnauthorized, Type: llmbridge.ErrorTypeInvalidRequest, Code: "invalid_api_key",
		Message: "Missing or invalid access key: send Authorization: Bearer <key> or x-api-key: <key>."}
}

// refusal is the 429 of a refused reservation of who ("key vk_…",
// "team research").
func refusal(who string, lim Limits, d decision) *llmbridge.APIError {
	e := &llmbridge.APIError{Status: http.StatusTooManyRequests, Code: "rate_limit_exceeded", RetryAfter: retryAfter(d.retry)}
	wait := d.retry.Round(time.Millisecond)
	switch d.reason {
	case reasonRequests:
		e.Type = "requests"
		e.Message = fmt.Sprintf("Rate limit reached for requests on %s: limit %d per minute. Please try again in %s.", who, lim.RPM, wait)
	case reasonTokens:
		e.Type = "tokens"
		e.Message = fmt.Sprintf("Rate limit reached for tokens on %s: limit %d per minute, remaining %d. Please try again in %s.", who, lim.TPM, d.remTok, wait)
	case reasonParallel:
		e.Type = "requests"
		e.Message = fmt.Sprintf("Too many requests in flight on %s: limit %d at a time. Please try again when one has finished.", who, lim.MaxParallel)
	case reasonDaily:
		e.Type, e.Code = "insufficient_quota", "budget_exceeded"
		e.Message = fmt.Sprintf("The daily budget of $%s of %s is spent; it renews at 00:00 UTC.", usd(lim.DailyBudgetUSD), who)
	case reasonMonthly:
		e.Type, e.Code = "insufficient_quota", "budget_exceeded"
		e.Message = fmt.Sprintf("The monthly budget of $%s of %s is spent; it renews on the 1st at 00:00 UTC.", usd(lim.MonthlyBudgetUSD), who)
	default:
		e.Type = "requests"
		e.Message = "Rate limit reached on " + who + "."
	}
	return e
}

func usd(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// retryAfter is a Retry-After value: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10)
}

// ticket is an admitted (or refused) request of a key with limits.
type ticket struct {
	a    *Admitter
	id   string
	lim  Limits
	d    decision
	vals [6]string // the values of AddHeader's headers
}

// Header implements llmbridge.HeaderTicket: OpenAI's x-ratelimit-* headers
// for the limits the key has (nil for none).
func (t *ticket) Header() http.Header { return headerOf(t) }

// AddHeader implements llmbridge.HeaderAdder: Header's entries, set in h
// (their values kept in the ticket: the bridge adds them once).
func (t *ticket) AddHeader(h http.Header) {
	req, tok := t.rates()
	addRateHeader(h, &t.vals, req, tok)
}

// rates are the values of the ticket's x-ratelimit-* headers.
func (t *ticket) rates() (req, tok rate) {
	if t.lim.RPM > 0 {
		req = rate{t.lim.RPM, t.d.remReq, t.d.resetReq}
	}
	if t.lim.TPM > 0 {
		tok = rate{t.lim.TPM, t.d.remTok, t.d.resetTok}
	}
	return req, tok
}

// headerOf is a ticket's Header: its AddHeader's entries in a header of
// their own, with values of their own (a fresh header each time, as
// HeaderTicket promises), nil when there are none.
func headerOf(t interface{ rates() (req, tok rate) }) http.Header {
	h := make(http.Header, 6)
	req, tok := t.rates()
	if addRateHeader(h, new([6]string), req, tok); len(h) == 0 {
		return nil
	}
	return h
}

// rate is one limit's x-ratelimit-* values; a limit of 0 has none.
type rate struct {
	limit, remaining int64
	reset            time.Duration
}

// rateHeaderNames are the headers of a request limit, then a token limit.
var rateHeaderNames = [2][3]string{
	{"X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests"},
	{"X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens"},
}

// addRateHeader sets the x-ratelimit-* headers of a request and a token
// limit (none for a limit of 0) in h, in one allocation: the values are
// written into one string, kept in vals (the ticket's, so that they need
// no array of their own), and each header gets a one-element,
// full-capacity slice of vals (an append copies). Each call writes vals
// anew, with the same values for the same ticket.
func addRateHeader(h http.Header, vals *[6]string, req, tok rate) {
	var buf [96]byte
	var ends [6]int
	b, n := buf[:0], 0
	for _, r := range [2]rate{req, tok} {
		if r.limit > 0 {
			b = strconv.AppendInt(b, r.limit, 10)
			ends[n] = len(b)
			b = strconv.AppendInt(b, r.remaining, 10)
			ends[n+1] = len(b)
			b = appendReset(b, r.reset)
			ends[n+2] = len(b)
			n += 3
		}
	}
	if n == 0 {
		return
	}
	all := string(b)
	i, from := 0, 0
	for w, r := range [2]rate{req, tok} {
		if r.limit <= 0 {
			continue
		}
		for _, name := range rateHeaderNames[w] {
			vals[i] = all[from:ends[i]]
			h[name] = vals[i : i+1 : i+1]
			from = ends[i]
			i++
		}
	}
}

// appendReset appends a reset time as OpenAI formats it ("17ms",
// "6m0s"): d rounded to the millisecond, as time.Duration's String
// writes it (TestAppendResetIsString), without its allocation.
func appendReset(b []byte, d time.Duration) []byte {
	d = d.Round(time.Millisecond)
	if d <= 0 {
		return append(b, "0s"...)
	}
	if d < time.Second {
		return append(strconv.AppendInt(b, int64(d/time.Millisecond), 10), "ms"...)
	}
	if h := d / time.Hour; h > 0 {
		b = append(strconv.AppendInt(b, int64(h), 10), 'h')
	}
	if d >= time.Minute {
		b = append(strconv.AppendInt(b, int64(d%time.Hour/time.Minute), 10), 'm')
	}
	b = strconv.AppendInt(b, int64(d%time.Minute/time.Second), 10)
	if frac := int64(d % time.Second / time.Millisecond); frac > 0 {
		b = append(b, '.', byte('0'+frac/100))
		if frac%100 > 0 {
			b = append(b, byte('0'+frac/10%10))
			if frac%10 > 0 {
				b = append(b, byte('0'+frac%10))
			}
		}
	}
	return append(b, 's')
}

// Settle implements llmbridge.Ticket: frees the slot in flight, corrects
// the reserved tokens to the real ones and charges the cost to the
// budgets. It does not block (Redis work goes to a queue).
//
// A budgeted request whose record has no price (Admit refuses unpriced
// model names, but a route, or an Options.Priced that answers for the
// route, may still reach an unpriced provider/model) is charged nothing:
// there is no price to charge it with. Its tokens still count against the
// TPM limit, and the first such request of each provider/model is logged
// as a warning, so the operator can add the price.
func (t *ticket) Settle(rec llmbridge.UsageRecord) {
	if !t.d.ok {
		return
	}
	used, cost := t.a.charge(&rec, t.lim.budgeted())
	t.a.backend.settle(t.id, t.d, used, cost, t.a.now())
}

// charge is what a finished request used: its tokens and, when priced
// (a budget counts it), its cost.
func (a *Admitter) charge(rec *llmbridge.UsageRecord, priced bool) (used int64, cost float64) {
	used = int64(rec.TotalTokens)
	if used == 0 {
		used = int64(rec.PromptTokens + rec.CompletionTokens)
	}
	if priced {
		if c := (*a.prices.Load()).CostOf(rec); c != nil {
			cost = *c
		} else if used > 0 {
			a.warnUnpriced(rec.Provider, rec.UpstreamModel)
		}
	}
	return used, cost
}

// maxUnpricedLogged bounds the models warnUnpriced remembers: upstream
// model names can come from clients (a Priced hook that lets them
// through), and memory must not grow with them.
const maxUnpricedLogged = 1000

// warnUnpriced logs, once per provider/model, that a budgeted request
// used tokens of a model without a price and was charged nothing.
func (a *Admitter) warnUnpriced(provider, model string) {
	name := provider + "/" + model
	a.unpricedMu.Lock()
	first := !a.unpriced[name] && len(a.unpriced) < maxUnpricedLogged
	if first {
		if a.unpriced == nil {
			a.unpriced = map[string]bool{}
		}
		a.unpriced[name] = true
	}
	a.unpricedMu.Unlock()
	if first {
		a.log.Warn("virtual keys: a budgeted request used a model without a price and was charged nothing; set its price under prices: in the YAML file",
			"model", name)
	}
}

// BudgetStatus is one budget of a key against what the key spent in the
// budget's period.
type BudgetStatus struct {
	KeyID    string  // the key's id (a virtual key's vk_…, an access key's key-…), or a team's tm_…
	Name     string  // the key's name and the period: "alice (daily)"
	SpentUSD float64 // spent this UTC day or month
	LimitUSD float64 // the budget
}

// Budgets returns the spend of every budgeted key and team against each
// of its budgets (daily and monthly), read from the store. It queries the store:
// call it from a background loop (the alerter), never on the request path.
// Without a store it returns nothing.
func (a *Admitter) Budgets(ctx context.Context) ([]BudgetStatus, error) {
	if a.o.Store == nil {
		return nil, nil
	}
	spend, err := a.o.Store.Spend(ctx, a.now())
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []BudgetStatus
	for _, e := range a.snap.Load().byHash {
		lim := e.policy.Limits
		if seen[e.id] || !lim.budgeted() {
			continue
		}
		seen[e.id] = true
		name := e.id
		if e.key != nil && e.key.Name != "" {
			name = e.key.Name
		}
		sp := spend[e.id]
		if lim.DailyBudgetUSD > 0 {
			out = append(out, BudgetStatus{KeyID: e.id, Name: name + " (daily)", SpentUSD: sp.TodayUSD, LimitUSD: lim.DailyBudgetUSD})
		}
		if lim.MonthlyBudgetUSD > 0 {
			out = append(out, BudgetStatus{KeyID: e.id, Name: name + " (monthly)", SpentUSD: sp.MonthUSD, LimitUSD: lim.MonthlyBudgetUSD})
		}
	}
	return a.teamBudgets(ctx, out) // teamadmit.go
}

// MCPAccess tells who presents the key of h (Authorization: Bearer, or
// x-api-key), for the MCP gateway, and which MCP servers that key may
// use: a virtual key only those its mcp_servers name (none when it names
// none), an access key those of its policy (every one when it names
// none), an anonymous caller of an open Admitter every one. An unknown, revoked or expired key is the 401 of
// Authenticate (an *llmbridge.APIError). It reserves nothing and is safe
// for concurrent use.
func (a *Admitter) MCPAccess(h http.Header) (id string, allows func(server string) bool, err error) {
	if h == nil {
		h = http.Header{}
	}
	e, err := a.caller(&llmbridge.Request{Header: h}, a.now())
	switch {
	case e == nil && err != nil:
		return "", nil, err
	case e == nil:
		return "", func(string) bool { return true }, nil
	case e.key != nil && len(e.policy.MCPServers) == 0:
		return e.id, func(string) bool { return false }, nil
	}
	p := e.policy
	return e.id, p.AllowsMCP, nil
}
