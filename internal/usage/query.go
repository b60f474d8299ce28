package usage

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Totals are the sums a report row carries.
type Totals struct {
	Requests         int64   `json:"requests"`
	Errors           int64   `json:"errors"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	CachedTokens     int64   `json:"cached_tokens"`
	ReasoningTokens  int64   `json:"reasoning_tokens"`
	CacheWriteTokens int64   `json:"cache_write_tokens"`
	CostUSD          float64 `json:"-"` // over priced requests; see Cost
	Unpriced         int64   `json:"unpriced_requests"`
	// CacheHits counts the requests answered from the response cache
	// (they cost 0); SavedUSD is what they would have cost (Row.SavedUSD).
	CacheHits int64   `json:"cache_hits"`
	SavedUSD  float64 `json:"saved_usd"`
}

func (t *Totals) add(r *Row) {
	t.Requests++
	if r.failed() {
		t.Errors++
	}
	t.PromptTokens += r.PromptTokens
	t.CompletionTokens += r.CompletionTokens
	t.CachedTokens += r.CachedTokens
	t.ReasoningTokens += r.ReasoningTokens
	t.CacheWriteTokens += r.CacheWriteTokens
	if r.CostUSD != nil {
		t.CostUSD = RoundUSD(t.CostUSD + *r.CostUSD)
	} else {
		t.Unpriced++
	}
	if r.hit() {
		t.CacheHits++
	}
	t.SavedUSD = RoundUSD(t.SavedUSD + r.SavedUSD)
}

func (t *Totals) plus(o *Totals) {
	t.Requests += o.Requests
	t.Errors += o.Errors
	t.PromptTokens += o.PromptTokens
	t.CompletionTokens += o.CompletionTokens
	t.CachedTokens += o.CachedTokens
	t.ReasoningTokens += o.ReasoningTokens
	t.CacheWriteTokens += o.CacheWriteTokens
	t.CostUSD = RoundUSD(t.CostUSD + o.CostUSD)
	t.Unpriced += o.Unpriced
	t.CacheHits += o.CacheHits
	t.SavedUSD = RoundUSD(t.SavedUSD + o.SavedUSD)
}

// Cost is the cost in USD of the priced requests, or nil when no request
// was priced (every one was of a model without a known price). When only
// some were, Unpriced says how many are missing from the sum.
func (t *Totals) Cost() *float64 {
	if t.Requests > 0 && t.Unpriced == t.Requests {
		return nil
	}
	c := RoundUSD(t.CostUSD)
	return &c
}

// Requests returns up to limit stored requests, newest first, older than
// the request with id before when before is not empty.
func (s *Store) Requests(ctx context.Context, limit int, before string) ([]Row, error) {
	q := `SELECT ` + requestCols + ` FROM requests`
	args := []any{}
	if before != "" {
		q += ` WHERE id < $1`
		args = append(args, before)
	}
	q += ` ORDER BY id DESC LIMIT ` + strconv.Itoa(limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.scrub(err)
	}
	defer rows.Close()
	out := []Row{}
	for rows.Next() {
		var r Row
		var ts int64
		var day string
		var stream, estimated int
		if err := rows.Scan(&r.ID, &ts, &day, &r.RequestID, &r.KeyID, &r.Provider, &r.Model, &r.ClientModel, &stream, &r.Status,
			&r.PromptTokens, &r.CompletionTokens, &r.CachedTokens, &r.ReasoningTokens, &r.CacheWriteTokens, &estimated,
			&r.DurationMS, &r.TTFTMS, &r.CostUSD, &r.Error, &r.Cache, &r.SavedUSD, &r.TeamID, &r.User); err != nil {
			return nil, s.scrub(err)
		}
		r.Time = time.UnixMilli(ts).UTC()
		r.Stream, r.Estimated = stream != 0, estimated != 0
		out = append(out, r)
	}
	return out, s.scrub(rows.Err())
}

// Prune deletes request rows that arrived before cutoff, in small
// transactions so writers are never held up for long. The daily rollups
// stay. It returns how many rows it deleted.
func (s *Store) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	// Ids start with the arrival time in hex, so the id order is the
	// time order and the primary key serves the range.
	bound := fmt.Sprintf("%012x", cutoff.UnixMilli())
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, `DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE id < $1 ORDER BY id LIMIT 5000)`, bound)
		if err != nil {
			return total, s.scrub(err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n == 0 {
			return total, nil
		}
	}
}

// Group names accepted by Report, and the column each reads: "team" is
// the key's team when the request was made (shown by its name, see
// Report), "user" the key's owner then.
var groupColumns = map[string]string{"day": "day", "model": "model", "provider": "provider", "key": "key_id",
	"team": "team_id", "user": "user_name"}

// GroupNames lists the groups a report can use, in a stable order.
var GroupNames = []string{"day", "model", "provider", "key", "team", "user"}

// Query selects a report: the UTC days From..To (YYYY-MM-DD, inclusive)
// summed per distinct combination of GroupBy.
type Query struct {
	From, To string
	GroupBy  []string
}

// Validate checks the dates and groups.
func (q *Query) Validate() error {
	for _, d := range []string{q.From, q.To} {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return fmt.Errorf("%q is not a date (YYYY-MM-DD)", d)
		}
	}
	if q.To < q.From {
		return fmt.Errorf("to (%s) is before from (%s)", q.To, q.From)
	}
	seen := map[string]bool{}
	for _, g := range q.GroupBy {
		if _, ok := groupColumns[g]; !ok {
			return fmt.Errorf("cannot group by %q (use %s, comma-separated to combine)", g, strings.Join(GroupNames, ", "))
		}
		if seen[g] {
			return fmt.Errorf("group_by names %q twice", g)
		}
		seen[g] = true
	}
	return nil
}

// Report is a usage report: one row per group, and the totals.
//
// It has no JSON form of its own: the admin API's and the usage
// command's JSON, CSV and table are written by internal/admin
// (ReportJSON, WriteReportCSV, WriteReportTable); encoding/json on a
// Report would not give that shape.
type Report struct {
	From    string
	To      string
	GroupBy []string
	Rows    []ReportRow
	Totals  ReportRow
}

// ReportRow is one group of a Report: its group values, in GroupBy
// order, and its sums.
type ReportRow struct {
	Group []string // values of the report's GroupBy, in order
	Totals
}

// Report sums the daily rollups (kept forever, so reports reach further
// back than the request rows). A "team" group shows the team's name
// (nameTeams).
func (s *Store) Report(ctx context.Context, q Query) (*Report, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	cols := make([]string, len(q.GroupBy))
	for i, g := range q.GroupBy {
		cols[i] = groupColumns[g]
	}
	sel := strings.Join(append(slices.Clone(cols), `SUM(requests), SUM(errors), SUM(prompt_tokens), SUM(completion_tokens),
SUM(cached_tokens), SUM(reasoning_tokens), SUM(cache_write_tokens), SUM(cost_usd), SUM(unpriced),
SUM(cache_hits), SUM(saved_usd)`), ", ")
	stmt := `SELECT ` + sel + ` FROM usage_daily WHERE day >= $1 AND day <= $2`
	if len(cols) > 0 {
		stmt += ` GROUP BY ` + strings.Join(cols, ", ") + ` ORDER BY ` + strings.Join(cols, ", ")
	}
	rows, err := s.db.QueryContext(ctx, stmt, q.From, q.To)
	if err != nil {
		return nil, s.scrub(err)
	}
	defer rows.Close()
	rep := &Report{From: q.From, To: q.To, GroupBy: slices.Clone(q.GroupBy), Rows: []ReportRow{}}
	if rep.GroupBy == nil {
		rep.GroupBy = []string{}
	}
	for rows.Next() {
		r := ReportRow{Group: make([]string, len(cols))}
		dst := make([]any, 0, len(cols)+11)
		for i := range r.Group {
			dst = append(dst, &r.Group[i])
		}
		// SUM over no rows is NULL: scan through nullable values.
		var n [9]sql.NullInt64
		var cost, saved sql.NullFloat64
		dst = append(dst, &n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &n[6], &cost, &n[7], &n[8], &saved)
		if err := rows.Scan(dst...); err != nil {
			return nil, s.scrub(err)
		}
		if !n[0].Valid {
			continue // no data at all (no GROUP BY)
		}
		r.Requests, r.Errors, r.PromptTokens, r.CompletionTokens = n[0].Int64, n[1].Int64, n[2].Int64, n[3].Int64
		r.CachedTokens, r.ReasoningTokens, r.CacheWriteTokens, r.Unpriced = n[4].Int64, n[5].Int64, n[6].Int64, n[7].Int64
		r.CostUSD = RoundUSD(cost.Float64)
		r.CacheHits, r.SavedUSD = n[8].Int64, RoundUSD(saved.Float64)
		rep.Rows = append(rep.Rows, r)
		rep.Totals.plus(&r.Totals)
	}
	if err := rows.Err(); err != nil {
		return nil, s.scrub(err)
	}
	return rep, s.nameTeams(ctx, rep)
}

// nameTeams shows a report's team groups by the team's name; a team
// that no longer exists keeps its id (a later team of the same name is
// another team).
func (s *Store) nameTeams(ctx context.Context, rep *Report) error {
	col := slices.Index(rep.GroupBy, "team")
	if col < 0 || len(rep.Rows) == 0 {
		return nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, name FROM teams`)
	if err != nil {
		return s.scrub(err)
	}
	defer rows.Close()
	names := map[string]string{}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return s.scrub(err)
		}
		names[id] = name
	}
	for i := range rep.Rows {
		if name, ok := names[rep.Rows[i].Group[col]]; ok {
			rep.Rows[i].Group[col] = name
		}
	}
	return s.scrub(rows.Err())
}
