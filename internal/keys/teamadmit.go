package keys

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge"
)

// A key's team holds on top of the key: Admit checks the model against
// the key's and then the team's patterns (403 naming which refused), and
// reserves the request against both sets of limits at once — in process
// under both locks, in Redis in one script run — so a request the team
// refuses takes nothing from the key, and the reverse (no rollback is
// ever needed). Settle frees and charges both. The team's spend comes
// from the usage records made under it (usage.Row.TeamID), restored at
// start and refreshed like the keys'.

// teamInfos makes the teams of the snapshot s by id, and lists the
// budgeted ones in s.teams (a.mu held).
func (a *Admitter) teamInfos(s *snapshot) map[string]*teamInfo {
	out := make(map[string]*teamInfo, len(a.teams))
	for _, t := range a.teams {
		ti := &teamInfo{id: t.ID, name: t.Name, policy: t.policy()}
		out[t.ID] = ti
		if t.budgeted() {
			s.teams = append(s.teams, ti)
		}
	}
	return out
}

// admitTeam is Admit for a key that belongs to a team: the team's models,
// then the key's and the team's limits together.
func (a *Admitter) admitTeam(ctx context.Context, r *llmbridge.Request, e *entry, now time.Time) (llmbridge.Ticket, error) {
	tm := e.team
	if tm.missing {
		return nil, &llmbridge.APIError{Status: http.StatusForbidden, Type: llmbridge.ErrorTypeInvalidRequest, Code: "team_not_found",
			Message: fmt.Sprintf("This key belongs to the team %s, which no longer exists; the bridge's operator can move the key to another team.", tm.id)}
	}
	if r.Model != "" && !a.allows(&tm.policy, r.Model) {
		return nil, &llmbridge.APIError{Status: http.StatusForbidden, Type: llmbridge.ErrorTypeInvalidRequest, Code: "model_not_allowed", Param: "model",
			Message: fmt.Sprintf("This key's team %s may not use the model `%s`; it may use %s.", tm.name, r.Model, strings.Join(tm.policy.Models, ", "))}
	}
	kl, tl := e.policy.Limits, tm.policy.Limits
	if kl.IsZero() && tl.IsZero() {
		return nil, nil
	}
	// Counting tokens is not billed, so a budget needs no price for it.
	if (kl.budgeted() || tl.budgeted()) && r.Model != "" && r.Format != "anthropic_count_tokens" && !a.priced(r.Model) {
		who := "this key has"
		if !kl.budgeted() {
			who = "this key's team has"
		}
		return nil, errNotPriced(r.Model, who)
	}
	var est int64
	if kl.TPM > 0 || tl.TPM > 0 {
		est = int64(r.PromptTokensEstimate())
	}
	switch {
	case tl.IsZero(): // the team only restricts models: the key's limits alone
		return a.admitOne(ctx, "key "+e.id, e.id, kl, est, now)
	case kl.IsZero(): // the key has no limits of its own: the team's alone
		return a.admitOne(ctx, "team "+tm.name, tm.id, tl, est, now)
	}
	t := &teamTicket{a: a, kid: e.id, tid: tm.id, kl: kl, tl: tl}
	t.kd, t.td = a.backend.reservePair(ctx, e.id, kl, tm.id, tl, est, now)
	switch {
	case t.kd.reason != "":
		return t, refusal("key "+e.id, kl, t.kd)
	case t.td.reason != "":
		return t, refusal("team "+tm.name, tl, t.td)
	case !t.kd.ok || !t.td.ok:
		return t, refusal("key "+e.id, kl, t.kd) // not reached: a refusal has a reason
	}
	return t, nil
}

// admitOne reserves against one set of limits, lim of id (who names it
// in a refusal).
func (a *Admitter) admitOne(ctx context.Context, who, id string, lim Limits, est int64, now time.Time) (llmbridge.Ticket, error) {
	t := &ticket{a: a, id: id, lim: lim}
	if t.d = a.backend.reserve(ctx, id, lim, est, now); !t.d.ok {
		return t, refusal(who, lim, t.d)
	}
	return t, nil
}

// teamTicket is a request reserved against a key and its team.
type teamTicket struct {
	a        *Admitter
	kid, tid string
	kl, tl   Limits
	kd, td   decision
	vals     [6]string // the values of AddHeader's headers
}

// Settle implements llmbridge.Ticket: the key's and the team's slots in
// flight are freed, their tokens corrected, and the cost charged to each
// that has a budget.
func (t *teamTicket) Settle(rec llmbridge.UsageRecord) {
	if !t.kd.ok || !t.td.ok {
		return
	}
	used, cost := t.a.charge(&rec, t.kl.budgeted() || t.tl.budgeted())
	now := t.a.now()
	t.a.backend.settle(t.kid, t.kd, used, budgetCost(t.kl, cost), now)
	t.a.backend.settle(t.tid, t.td, used, budgetCost(t.tl, cost), now)
}

// budgetCost is cost when lim has a budget to charge it to, else 0 (no
// spend to keep).
func budgetCost(lim Limits, cost float64) float64 {
	if lim.budgeted() {
		return cost
	}
	return 0
}

// Header implements llmbridge.HeaderTicket: for requests and for tokens,
// the x-ratelimit-* headers of whichever of the key and the team has the
// least left (the key on a tie), so a client that paces itself by them
// stays under both.
func (t *teamTicket) Header() http.Header { return headerOf(t) }

// AddHeader implements llmbridge.HeaderAdder: Header's entries, set in h
// (their values kept in the ticket: the bridge adds them once).
func (t *teamTicket) AddHeader(h http.Header) {
	req, tok := t.rates()
	addRateHeader(h, &t.vals, req, tok)
}

// rates are the values of the ticket's x-ratelimit-* headers: for each
// limit, the key's or the team's, whichever has the least left.
func (t *teamTicket) rates() (req, tok rate) {
	pick := func(kLimit, kRem int64, kReset time.Duration, tLimit, tRem int64, tReset time.Duration) rate {
		switch {
		case tLimit > 0 && (kLimit == 0 || tRem < kRem):
			return rate{tLimit, tRem, tReset}
		case kLimit > 0:
			return rate{kLimit, kRem, kReset}
		}
		return rate{}
	}
	return pick(t.kl.RPM, t.kd.remReq, t.kd.resetReq, t.tl.RPM, t.td.remReq, t.td.resetReq),
		pick(t.kl.TPM, t.kd.remTok, t.kd.resetTok, t.tl.TPM, t.td.remTok, t.td.resetTok)
}

// refreshTeamSpend hands the store's spend of budgeted teams to the
// backend (refreshSpend).
func (a *Admitter) refreshTeamSpend(ctx context.Context, s *snapshot, now time.Time) {
	if len(s.teams) == 0 {
		return
	}
	spend, err := a.o.Store.TeamSpend(ctx, now)
	if err != nil {
		a.log.Warn("teams: reading the spend failed", "error", err)
		return
	}
	for _, t := range s.teams {
		a.backend.stored(ctx, t.id, spend[t.id], now)
	}
}

// Attribution names the team ("tm_…") and the user (the key's owner) of
// the virtual key keyID, "" for none: usage.Writer.SetAttribution, so
// every usage record carries them. It reads the loaded keys (a map
// lookup) and is safe for concurrent use.
func (a *Admitter) Attribution(keyID string) (teamID, user string) {
	e := a.snap.Load().byID[keyID]
	if e == nil || e.key == nil {
		return "", ""
	}
	return e.key.TeamID, e.key.Owner
}

// teamBudgets appends the budgets of the teams to out (Budgets).
func (a *Admitter) teamBudgets(ctx context.Context, out []BudgetStatus) ([]BudgetStatus, error) {
	teams := a.snap.Load().teams
	if len(teams) == 0 {
		return out, nil
	}
	spend, err := a.o.Store.TeamSpend(ctx, a.now())
	if err != nil {
		return out, err
	}
	for _, t := range teams {
		sp, lim := spend[t.id], t.policy.Limits
		if lim.DailyBudgetUSD > 0 {
			out = append(out, BudgetStatus{KeyID: t.id, Name: "team " + t.name + " (daily)", SpentUSD: sp.TodayUSD, LimitUSD: lim.DailyBudgetUSD})
		}
		if lim.MonthlyBudgetUSD > 0 {
			out = append(out, BudgetStatus{KeyID: t.id, Name: "team " + t.name + " (monthly)", SpentUSD: sp.MonthUSD, LimitUSD: lim.MonthlyBudgetUSD})
		}
	}
	return out, nil
}
