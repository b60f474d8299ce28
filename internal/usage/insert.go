package usage

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge"
)

// Row is one stored request: a UsageRecord with its cost.
type Row struct {
	ID               string    `json:"id"`
	Time             time.Time `json:"time"`
	RequestID        string    `json:"request_id"`
	KeyID            string    `json:"key_id"`
	Provider         string    `json:"provider"`
	Model            string    `json:"model"`        // provider/upstream model as routed
	ClientModel      string    `json:"client_model"` // as the client sent it
	Stream           bool      `json:"stream"`
	Status           int       `json:"status"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	CachedTokens     int64     `json:"cached_tokens"`
	ReasoningTokens  int64     `json:"reasoning_tokens"`
	CacheWriteTokens int64     `json:"cache_write_tokens"`
	Estimated        bool      `json:"estimated"`
	DurationMS       float64   `json:"duration_ms"`
	TTFTMS           float64   `json:"ttft_ms"`
	CostUSD          *float64  `json:"cost_usd"` // null: no known price
	Error            string    `json:"error"`
	// Cache is what the response cache did (llmbridge.CacheHit,
	// CacheMiss, CacheBypass), "" without a cache. A hit's token counts
	// and CostUSD are zero: nothing was spent upstream.
	Cache string `json:"cache"`
	// SavedUSD is what a cache hit saved: the cached answer's token counts
	// (UsageRecord.Saved) priced like any request of its model; 0 for
	// every other row and for hits of a model without a known price.
	SavedUSD float64 `json:"saved_usd"`
	// TeamID and User are the key's team ("tm_…") and owner when the
	// request was made ("" for none), set by the Writer's Attribution.
	TeamID string `json:"team_id,omitempty"`
	User   string `json:"user,omitempty"`
}

// RowOf prices a record, and on a cache hit what the hit saved
// (SavedUSD: prices.CostOf of r.SavedRecord()).
func RowOf(r llmbridge.UsageRecord, prices Prices) Row {
	model := r.Model
	if r.Provider != "" && r.UpstreamModel != "" {
		model = r.Provider + "/" + r.UpstreamModel
	}
	id := r.ID
	if id == "" {
		// Records built by hand (tests, imports) still need a unique key.
		id = llmbridge.NewRecordID(r.Time)
	}
	var saved float64
	if r.Cache == llmbridge.CacheHit {
		sr := r.SavedRecord()
		if c := prices.CostOf(&sr); c != nil {
			saved = *c
		}
	}
	return Row{
		ID: id, Time: r.Time.UTC(), RequestID: r.RequestID, KeyID: r.KeyID, Provider: r.Provider, Model: model, ClientModel: r.Model,
		Stream: r.Stream, Status: r.Status, PromptTokens: int64(r.PromptTokens), CompletionTokens: int64(r.CompletionTokens),
		CachedTokens: int64(r.CachedTokens), ReasoningTokens: int64(r.ReasoningTokens), CacheWriteTokens: int64(r.CacheWriteTokens),
		Estimated: r.Estimated, DurationMS: ms(r.Duration), TTFTMS: ms(r.TTFT), CostUSD: prices.CostOf(&r), Error: r.Error,
		Cache: r.Cache, SavedUSD: saved,
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// failed reports whether a row counts as an error in reports.
func (r *Row) failed() bool { return r.Status >= 400 || r.Error != "" }

// hit reports whether the row was answered from the response cache.
func (r *Row) hit() bool { return r.Cache == llmbridge.CacheHit }

const requestCols = `id, ts, day, request_id, key_id, provider, model, client_model, stream, status, prompt_tokens, completion_tokens,
cached_tokens, reasoning_tokens, cache_write_tokens, estimated, duration_ms, ttft_ms, cost_usd, error, cache, saved_usd, team_id, user_name`

const nRequestCols = 24

// emptyAsNull are the request text columns most rows leave empty: a
// statement that binds them binds "" as NULL and stores it empty
// (COALESCE): SQLite's driver copies every text argument into C memory,
// an allocation and a free for each empty string.
var emptyAsNull = [nRequestCols]bool{3: true, 4: true, 19: true, 20: true, 22: true, 23: true}

// zeroLiteral is what a statement writes, instead of a parameter, in a
// column every row of its piece leaves at its zero (shape.zero): the
// value the zero would be stored as. Every bind costs SQLite's driver a
// lock of the connection's mutex (BenchmarkInsertSQLite).
var zeroLiteral = [nRequestCols]string{3: "''", 4: "''", 12: "0", 13: "0", 14: "0", 15: "0", 17: "0", 18: "NULL", 19: "''", 20: "''",
	21: "0", 22: "''", 23: "''"}

// colMask is a set of request columns (bit i: column i of requestCols).
type colMask uint32

// sharable are the request columns the rows of a piece often all hold
// the same value in: the day, who called, which model, how it ended.
const sharable colMask = 1<<2 | 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<9 | 1<<19 | 1<<20 | 1<<22 | 1<<23

// shape is how a statement writes a piece's request columns: those in
// zero as their zeroLiteral, those in shared (every row holds the same
// value) as one parameter bound once and named by number in every row,
// the others as a parameter a row.
type shape struct{ zero, shared colMask }

// zeros is the set of r's columns that hold their zeroLiteral. A float
// counts only as +0, which is what the literal stores.
func (r *Row) zeros() colMask {
	var m colMask
	for i, zero := range [...]bool{3: r.RequestID == "", 4: r.KeyID == "", 12: r.CachedTokens == 0, 13: r.ReasoningTokens == 0,
		14: r.CacheWriteTokens == 0, 15: !r.Estimated, 17: math.Float64bits(r.TTFTMS) == 0, 18: r.CostUSD == nil, 19: r.Error == "",
		20: r.Cache == "", 21: math.Float64bits(r.SavedUSD) == 0, 22: r.TeamID == "", 23: r.User == ""} {
		if zero {
			m |= 1 << i
		}
	}
	return m
}

// same is the set of sharable columns in which r and o hold the same
// value; sameDay says whether their UTC dates are the same.
func (r *Row) same(o *Row, sameDay bool) colMask {
	var m colMask
	for i, eq := range [...]bool{2: sameDay, 3: r.RequestID == o.RequestID, 4: r.KeyID == o.KeyID, 5: r.Provider == o.Provider,
		6: r.Model == o.Model, 7: r.ClientModel == o.ClientModel, 8: r.Stream == o.Stream, 9: r.Status == o.Status, 19: r.Error == o.Error,
		20: r.Cache == o.Cache, 22: r.TeamID == o.TeamID, 23: r.User == o.User} {
		if eq {
			m |= 1 << i
		}
	}
	return m
}

// shapeOf is the shape of part's statement: the columns every row leaves
// at zero, and the other sharable ones every row holds the same value
// in (none for a single row: nothing to share).
func shapeOf(part []Row, d *days) shape {
	zero, shared := ^colMask(0), sharable
	day := d.of(part[0].Time)
	for i := range part {
		zero &= part[i].zeros()
		if i > 0 {
			shared &= part[i].same(&part[0], d.of(part[i].Time) == day)
		}
	}
	if len(part) == 1 {
		shared = 0
	}
	return shape{zero, shared &^ zero}
}

// args appends r's request columns but those in skip, in requestCols'
// order; day is r's UTC date (days.of). The emptyAsNull columns' empty
// strings are bound as nil (NULL).
func (r *Row) args(dst []any, day string, skip colMask) []any {
	for i := range nRequestCols {
		if skip&(1<<i) != 0 {
			continue
		}
		var v any
		switch i {
		case 0:
			v = r.ID
		case 1:
			v = r.Time.UnixMilli()
		case 2:
			v = day
		case 3:
			v = orNull(r.RequestID)
		case 4:
			v = orNull(r.KeyID)
		case 5:
			v = r.Provider
		case 6:
			v = r.Model
		case 7:
			v = r.ClientModel
		case 8:
			v = b2i(r.Stream)
		case 9:
			v = r.Status
		case 10:
			v = r.PromptTokens
		case 11:
			v = r.CompletionTokens
		case 12:
			v = r.CachedTokens
		case 13:
			v = r.ReasoningTokens
		case 14:
			v = r.CacheWriteTokens
		case 15:
			v = b2i(r.Estimated)
		case 16:
			v = r.DurationMS
		case 17:
			v = r.TTFTMS
		case 18:
			v = r.CostUSD
		case 19:
			v = orNull(r.Error)
		case 20:
			v = orNull(r.Cache)
		case 21:
			v = r.SavedUSD
		case 22:
			v = orNull(r.TeamID)
		case 23:
			v = orNull(r.User)
		}
		dst = append(dst, v)
	}
	return dst
}

// orNull is s, or nil (NULL) for "": for the emptyAsNull columns.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// days formats UTC dates, remembering the last: the rows of a batch
// nearly always share one, and formatting it cost two allocations a row.
type days struct {
	from, to int64 // the remembered day's first and past-last Unix millisecond
	day      string
}

// of returns t's UTC date as YYYY-MM-DD.
func (d *days) of(t time.Time) string {
	if ms := t.UnixMilli(); d.day == "" || ms < d.from || ms >= d.to {
		u := t.UTC()
		start := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
		d.from, d.to, d.day = start.UnixMilli(), start.AddDate(0, 0, 1).UnixMilli(), u.Format(time.DateOnly)
	}
	return d.day
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// dailyKey is a usage_daily primary key.
type dailyKey struct{ day, keyID, teamID, user, provider, model string }

// values appends one row's "($n,…,$m)", numbering from *next — or
// "(?,…,?)" for SQLite, whose driver looked "$n" names up one by one
// (quadratic in the number of parameters: 124 ms for a 256-row batch,
// against 5 ms with anonymous ones). A column in sh.zero is written as
// its zeroLiteral; one in sh.shared as the number num gives it (the
// parameters 1 to k, bound once; SQLite then numbers the first row's
// parameters too, "?n", so that its anonymous ones come after). A column
// for which null reports true is wrapped in COALESCE(…, empty string):
// its empty strings are bound as NULL (emptyAsNull).
func (s *Store) values(sb *strings.Builder, cols int, first bool, next *int, sh shape, num *[nRequestCols]int, null func(col int) bool) {
	sb.WriteByte('(')
	for i := 0; i < cols; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		if sh.zero&(1<<i) != 0 {
			sb.WriteString(zeroLiteral[i])
			continue
		}
		wrap := null(i)
		if wrap {
			sb.WriteString("COALESCE(")
		}
		n := num[i]
		if sh.shared&(1<<i) == 0 {
			*next++
			n = *next
		}
		switch {
		case s.postgres:
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(n))
		case first && sh.shared != 0 || sh.shared&(1<<i) != 0:
			sb.WriteByte('?')
			sb.WriteString(strconv.Itoa(n))
		default:
			sb.WriteByte('?')
		}
		if wrap {
			sb.WriteString(", '')")
		}
	}
	sb.WriteByte(')')
}

// Statements are prepared once per size (and shape) and reused: parsing
// a multi-row INSERT cost SQLite more than executing it. A batch is cut
// greedily into pieces of these sizes (the writer's 1,024 = 16 × 64).
var pieceSizes = []int{64, 16, 4, 1}

const dailyCols = 17

const upsertDaily = ` ON CONFLICT (day, key_id, team_id, user_name, provider, model) DO UPDATE SET
requests = usage_daily.requests + excluded.requests, errors = usage_daily.errors + excluded.errors,
prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens,
cached_tokens = usage_daily.cached_tokens + excluded.cached_tokens,
reasoning_tokens = usage_daily.reasoning_tokens + excluded.reasoning_tokens,
cache_write_tokens = usage_daily.cache_write_tokens + excluded.cache_write_tokens,
cost_usd = usage_daily.cost_usd + excluded.cost_usd, unpriced = usage_daily.unpriced + excluded.unpriced,
cache_hits = usage_daily.cache_hits + excluded.cache_hits, saved_usd = usage_daily.saved_usd + excluded.saved_usd`

// stmtKey names a cached statement: which one, for how many rows, of
// which shape.
type stmtKey struct {
	daily     bool
	returning bool // the request rows' insert returns the ids it stored
	rows      int
	shape     shape // of the request columns
}

// maxStmts bounds the statements a Store prepares for shapes: past it, a
// piece whose shape has no statement yet binds every column of every row
// (with one of the statements that do, prepared past the bound, like the
// daily upserts'). The first shapes met keep theirs.
const maxStmts = 64

// stmt returns the prepared statement of k (for k.rows request rows or
// daily upserts), preparing it the first time, and the shape it has:
// k.shape, or none when there are maxStmts statements already.
func (s *Store) stmt(ctx context.Context, k stmtKey) (*sql.Stmt, shape, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stmts[k]; st != nil {
		return st, k.shape, nil
	}
	if k.shape != (shape{}) && len(s.stmts) >= maxStmts {
		if k.shape = (shape{}); s.stmts[k] != nil {
			return s.stmts[k], k.shape, nil
		}
	}
	var sb strings.Builder
	cols, tail := nRequestCols, " ON CONFLICT (id) DO NOTHING"
	null := func(col int) bool { return emptyAsNull[col] }
	if k.returning {
		tail += " RETURNING id"
	}
	if k.daily {
		sb.WriteString(`INSERT INTO usage_daily (day, key_id, team_id, user_name, provider, model, requests, errors, prompt_tokens, completion_tokens,
cached_tokens, reasoning_tokens, cache_write_tokens, cost_usd, unpriced, cache_hits, saved_usd) VALUES `)
		cols, tail = dailyCols, upsertDaily
		null = func(int) bool { return false }
	} else {
		sb.WriteString("INSERT INTO requests (" + requestCols + ") VALUES ")
	}
	// The shared columns are the parameters 1 to k, in column order.
	var num [nRequestCols]int
	next := 0
	for i := range num {
		if k.shape.shared&(1<<i) != 0 {
			next++
			num[i] = next
		}
	}
	for i := range k.rows {
		if i > 0 {
			sb.WriteByte(',')
		}
		s.values(&sb, cols, i == 0, &next, k.shape, &num, null)
	}
	sb.WriteString(tail)
	st, err := s.db.PrepareContext(ctx, sb.String())
	if err != nil {
		return nil, shape{}, err
	}
	if s.stmts == nil {
		s.stmts = map[stmtKey]*sql.Stmt{}
	}
	s.stmts[k] = st
	return st, k.shape, nil
}

// pieces cuts n into the sizes statements are prepared for.
func pieces(n int) []int {
	var out []int
	for _, size := range pieceSizes {
		for ; n >= size; n -= size {
			out = append(out, size)
		}
	}
	return out
}

// Insert stores rows in one transaction and adds the rows it stored to
// the daily rollups in the same transaction. A row whose id is already
// stored is skipped, so inserting a batch twice counts it once. It
// returns how many rows were new.
//
// It first inserts without asking which rows were new: when every row
// was (the database's count says so), the rollups take them all. Only a
// batch with a row already stored (a spool replayed after a crash) is
// rolled back and inserted again, learning which rows were new from
// RETURNING — whose result rows cost a tenth of an insert.
func (s *Store) Insert(ctx context.Context, rows []Row) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	n, err := s.insert(ctx, rows, false)
	if errors.Is(err, errStoredBefore) {
		n, err = s.insert(ctx, rows, true)
	}
	return n, err
}

// errStoredBefore reports a row of a batch inserted without RETURNING
// that was stored before (or twice in the batch).
var errStoredBefore = errors.New("usage: a row of the batch was stored before")

// insert is Insert's transaction; returning says whether the statements
// return the rows they stored (else a conflict is errStoredBefore).
func (s *Store) insert(ctx context.Context, rows []Row, returning bool) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, s.scrub(err)
	}
	defer func() { _ = tx.Rollback() }()
	// The batch's new rows summed per usage_daily row, in first-seen order.
	// Summed here rather than in a helper holding them behind a pointer:
	// as locals, the map and slice stay on the stack.
	daily := map[dailyKey]*Totals{}
	var order []dailyKey
	// One argument buffer, one id set and one date serve every piece of
	// the batch.
	args := make([]any, 0, pieceSizes[0]*nRequestCols)
	var d days
	var fresh map[string]bool // nil: every row of the piece is new
	if returning {
		fresh = map[string]bool{}
	}
	inserted, start := 0, 0
	for _, n := range pieces(len(rows)) {
		part := rows[start : start+n]
		start += n
		if args, err = s.insertPiece(ctx, tx, part, args, fresh, &d); err != nil {
			if errors.Is(err, errStoredBefore) {
				return 0, err
			}
			return 0, s.scrub(err)
		}
		for i := range part {
			r := &part[i]
			if fresh != nil {
				if !fresh[r.ID] {
					continue // stored before (or twice in this batch)
				}
				delete(fresh, r.ID)
			}
			inserted++
			k := r.dailyKey(d.of(r.Time))
			t := daily[k]
			if t == nil {
				t = &Totals{}
				daily[k] = t
				order = append(order, k)
			}
			t.add(r)
		}
	}
	if err := s.upsertDaily(ctx, tx, daily, order, args); err != nil {
		return 0, s.scrub(err)
	}
	if err := tx.Commit(); err != nil {
		return 0, s.scrub(err)
	}
	return inserted, nil
}

// insertPiece inserts part with the statement prepared for its size and
// shape (shapeOf: its columns at zero, and those it binds once). With
// fresh it leaves there the ids it stored (the statement returns only the
// rows it did not skip as conflicts); without, a skipped row is
// errStoredBefore. d formats the rows' dates. It returns args, its
// argument buffer, for reuse.
func (s *Store) insertPiece(ctx context.Context, tx *sql.Tx, part []Row, args []any, fresh map[string]bool, d *days) ([]any, error) {
	st, sh, err := s.stmt(ctx, stmtKey{rows: len(part), returning: fresh != nil, shape: shapeOf(part, d)})
	if err != nil {
		return args, err
	}
	// The shared values, then each row's own.
	args = part[0].args(args[:0], d.of(part[0].Time), ^sh.shared)
	for i := range part {
		args = part[i].args(args, d.of(part[i].Time), sh.zero|sh.shared)
	}
	if fresh == nil {
		res, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		if err != nil {
			return args, err
		}
		if n, err := res.RowsAffected(); err != nil || n != int64(len(part)) {
			return args, cmp.Or(err, errStoredBefore)
		}
		return args, nil
	}
	res, err := tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	if err != nil {
		return args, err
	}
	clear(fresh)
	for res.Next() {
		var id string
		if err := res.Scan(&id); err != nil {
			res.Close()
			return args, err
		}
		fresh[id] = true
	}
	if err := res.Close(); err != nil {
		return args, err
	}
	return args, res.Err()
}

// dailyKey is the usage_daily row r counts in; day is r's UTC date.
func (r *Row) dailyKey(day string) dailyKey {
	return dailyKey{day, r.KeyID, r.TeamID, r.User, r.Provider, r.Model}
}

// upsertDaily adds daily to usage_daily, in pieces like the rows, reusing
// args as the argument buffer. order holds daily's keys.
func (s *Store) upsertDaily(ctx context.Context, tx *sql.Tx, daily map[dailyKey]*Totals, order []dailyKey, args []any) error {
	// The same order in every transaction: two instances upserting the
	// same rollup rows then wait for each other instead of deadlocking.
	slices.SortFunc(order, func(a, b dailyKey) int {
		return cmp.Or(strings.Compare(a.day, b.day), strings.Compare(a.keyID, b.keyID), strings.Compare(a.teamID, b.teamID),
			strings.Compare(a.user, b.user), strings.Compare(a.provider, b.provider), strings.Compare(a.model, b.model))
	})
	start := 0
	for _, n := range pieces(len(order)) {
		part := order[start : start+n]
		start += n
		st, _, err := s.stmt(ctx, stmtKey{daily: true, rows: n})
		if err != nil {
			return err
		}
		args = args[:0]
		for _, k := range part {
			args = daily[k].dailyArgs(args, k)
		}
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// dailyArgs appends the arguments of k's usage_daily upsert, in the
// order of the statement's columns.
func (t *Totals) dailyArgs(dst []any, k dailyKey) []any {
	return append(dst, k.day, k.keyID, k.teamID, k.user, k.provider, k.model, t.Requests, t.Errors, t.PromptTokens, t.CompletionTokens,
		t.CachedTokens, t.ReasoningTokens, t.CacheWriteTokens, t.CostUSD, t.Unpriced, t.CacheHits, t.SavedUSD)
}
