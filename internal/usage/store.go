package usage

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/llmbridge/llmbridge"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the usage database: an embedded SQLite file by default, or a
// PostgreSQL database that several bridge instances share. Both have the
// same schema (migrations/) and answer the same queries. A Store is safe
// for concurrent use.
type Store struct {
	db       *sql.DB
	postgres bool
	where    string // for messages: the file, or the database without credentials
	secret   string // the URL's password, scrubbed from errors

	mu    sync.Mutex
	stmts map[stmtKey]*sql.Stmt
}

// IsPostgresURL reports whether dsn names a PostgreSQL database rather
// than a SQLite file.
func IsPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens (creating and migrating as needed) the store at dsn: a
// postgres:// or postgresql:// URL, or else the path of a SQLite file
// (its directory is created). SQLite runs in WAL mode with a busy timeout
// and synchronous=NORMAL: a crash never corrupts the file, and at most
// the last transactions before a power loss are lost.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s := &Store{}
	var err error
	if IsPostgresURL(dsn) {
		s.postgres = true
		u, perr := url.Parse(dsn)
		if perr != nil {
			return nil, errors.New("usage store: the PostgreSQL URL does not parse")
		}
		if p, ok := u.User.Password(); ok {
			s.secret = p
		}
		s.where = "postgres://" + u.Host + u.Path
		q := u.Query()
		if !q.Has("connect_timeout") {
			q.Set("connect_timeout", "5")
			u.RawQuery = q.Encode()
		}
		s.db, err = sql.Open("pgx", u.String())
		if err == nil {
			s.db.SetMaxOpenConns(8)
			s.db.SetMaxIdleConns(8)
			s.db.SetConnMaxIdleTime(5 * time.Minute)
		}
	} else {
		if dsn == "" {
			return nil, errors.New("usage store: no database path")
		}
		s.where = dsn
		if dir := filepath.Dir(dsn); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("usage store: %w", err)
			}
		}
		// Created 0600 before SQLite opens it; the -wal and -shm files
		// copy the database file's permissions.
		if f, err := os.OpenFile(dsn, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
			_ = f.Close()
		}
		s.db, err = sql.Open("sqlite", sqliteDSN(dsn))
		if err == nil {
			// Writes serialise in SQLite anyway; readers run beside the
			// writer in WAL mode.
			s.db.SetMaxOpenConns(4)
			s.db.SetMaxIdleConns(4)
		}
	}
	if err != nil {
		return nil, s.scrub(err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	return s, nil
}

func sqliteDSN(path string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file:" + r.Replace(path) + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// String names the store for messages; it never contains credentials.
func (s *Store) String() string { return s.where }

// Postgres reports whether the store is PostgreSQL.
func (s *Store) Postgres() bool { return s.postgres }

// Close closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	for _, st := range s.stmts {
		_ = st.Close()
	}
	s.stmts = nil
	s.mu.Unlock()
	return s.db.Close()
}

// scrub removes the database password from an error's text.
func (s *Store) scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if s.secret != "" && strings.Contains(msg, s.secret) {
		msg = strings.ReplaceAll(msg, s.secret, "[REDACTED]")
	}
	return fmt.Errorf("usage store %s: %s", s.where, msg)
}

// migrate applies the embedded migrations not yet applied, in order, in
// one transaction (under an advisory lock on PostgreSQL, so instances
// starting together do not race).
func (s *Store) migrate(ctx context.Context) error {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(files)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.scrub(err)
	}
	defer func() { _ = tx.Rollback() }()
	if s.postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7210819)`); err != nil {
			return s.scrub(err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return s.scrub(err)
	}
	applied := map[int64]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return s.scrub(err)
	}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return s.scrub(err)
		}
		applied[v] = true
	}
	rows.Close()
	for _, f := range files {
		name := filepath.Base(f)
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return fmt.Errorf("usage store: migration %s: no version number", name)
		}
		if applied[v] {
			continue
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return s.scrub(fmt.Errorf("migration %s: %w", name, err))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, v, time.Now().UnixMilli()); err != nil {
			return s.scrub(err)
		}
	}
	return s.scrub(tx.Commit())
}

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
}

// RowOf prices a record.
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
	return Row{
		ID: id, Time: r.Time.UTC(), RequestID: r.RequestID, KeyID: r.KeyID, Provider: r.Provider, Model: model, ClientModel: r.Model,
		Stream: r.Stream, Status: r.Status, PromptTokens: int64(r.PromptTokens), CompletionTokens: int64(r.CompletionTokens),
		CachedTokens: int64(r.CachedTokens), ReasoningTokens: int64(r.ReasoningTokens), CacheWriteTokens: int64(r.CacheWriteTokens),
		Estimated: r.Estimated, DurationMS: ms(r.Duration), TTFTMS: ms(r.TTFT), CostUSD: prices.CostOf(&r), Error: r.Error,
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// failed reports whether a row counts as an error in reports.
func (r *Row) failed() bool { return r.Status >= 400 || r.Error != "" }

const requestCols = `id, ts, day, request_id, key_id, provider, model, client_model, stream, status, prompt_tokens, completion_tokens,
cached_tokens, reasoning_tokens, cache_write_tokens, estimated, duration_ms, ttft_ms, cost_usd, error`

const nRequestCols = 20

func (r *Row) args(dst []any) []any {
	return append(dst, r.ID, r.Time.UnixMilli(), r.Time.UTC().Format(time.DateOnly), r.RequestID, r.KeyID, r.Provider, r.Model, r.ClientModel,
		b2i(r.Stream), r.Status, r.PromptTokens, r.CompletionTokens, r.CachedTokens, r.ReasoningTokens, r.CacheWriteTokens,
		b2i(r.Estimated), r.DurationMS, r.TTFTMS, r.CostUSD, r.Error)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// dailyKey is a usage_daily primary key.
type dailyKey struct{ day, keyID, provider, model string }

// values appends "($n,…,$m)" with n starting at *next — or "(?,…,?)"
// for SQLite, whose driver looks "$n" names up one by one (quadratic in
// the number of parameters: 124 ms for a 256-row batch, against 5 ms
// with anonymous ones).
func (s *Store) values(sb *strings.Builder, cols int, next *int) {
	sb.WriteByte('(')
	for i := 0; i < cols; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		*next++
		if s.postgres {
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(*next))
		} else {
			sb.WriteByte('?')
		}
	}
	sb.WriteByte(')')
}

// Statements are prepared once per size and reused: parsing a multi-row
// INSERT cost SQLite more than executing it. A batch is cut greedily into
// pieces of these sizes (256 = 4 × 64).
var pieceSizes = []int{64, 16, 4, 1}

const dailyCols = 13

const upsertDaily = ` ON CONFLICT (day, key_id, provider, model) DO UPDATE SET
requests = usage_daily.requests + excluded.requests, errors = usage_daily.errors + excluded.errors,
prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens,
cached_tokens = usage_daily.cached_tokens + excluded.cached_tokens,
reasoning_tokens = usage_daily.reasoning_tokens + excluded.reasoning_tokens,
cache_write_tokens = usage_daily.cache_write_tokens + excluded.cache_write_tokens,
cost_usd = usage_daily.cost_usd + excluded.cost_usd, unpriced = usage_daily.unpriced + excluded.unpriced`

// stmtKey names a cached statement: which one, for how many rows.
type stmtKey struct {
	daily bool
	rows  int
}

// stmt returns the prepared statement inserting n request rows (or n
// daily upserts), preparing it the first time.
func (s *Store) stmt(ctx context.Context, k stmtKey) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stmts[k]; st != nil {
		return st, nil
	}
	var sb strings.Builder
	cols, tail := nRequestCols, " ON CONFLICT (id) DO NOTHING RETURNING id"
	if k.daily {
		sb.WriteString(`INSERT INTO usage_daily (day, key_id, provider, model, requests, errors, prompt_tokens, completion_tokens,
cached_tokens, reasoning_tokens, cache_write_tokens, cost_usd, unpriced) VALUES `)
		cols, tail = dailyCols, upsertDaily
	} else {
		sb.WriteString("INSERT INTO requests (" + requestCols + ") VALUES ")
	}
	next := 0
	for i := range k.rows {
		if i > 0 {
			sb.WriteByte(',')
		}
		s.values(&sb, cols, &next)
	}
	sb.WriteString(tail)
	st, err := s.db.PrepareContext(ctx, sb.String())
	if err != nil {
		return nil, err
	}
	if s.stmts == nil {
		s.stmts = map[stmtKey]*sql.Stmt{}
	}
	s.stmts[k] = st
	return st, nil
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
func (s *Store) Insert(ctx context.Context, rows []Row) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, s.scrub(err)
	}
	defer func() { _ = tx.Rollback() }()
	daily := map[dailyKey]*Totals{}
	var order []dailyKey
	inserted := 0
	args := make([]any, 0, pieceSizes[0]*nRequestCols)
	fresh := map[string]bool{}
	start := 0
	for _, n := range pieces(len(rows)) {
		part := rows[start : start+n]
		start += n
		st, err := s.stmt(ctx, stmtKey{rows: n})
		if err != nil {
			return 0, s.scrub(err)
		}
		args = args[:0]
		for i := range part {
			args = part[i].args(args)
		}
		res, err := tx.StmtContext(ctx, st).QueryContext(ctx, args...)
		if err != nil {
			return 0, s.scrub(err)
		}
		clear(fresh)
		for res.Next() {
			var id string
			if err := res.Scan(&id); err != nil {
				res.Close()
				return 0, s.scrub(err)
			}
			fresh[id] = true
		}
		if err := res.Close(); err != nil {
			return 0, s.scrub(err)
		}
		if err := res.Err(); err != nil {
			return 0, s.scrub(err)
		}
		for i := range part {
			r := &part[i]
			if !fresh[r.ID] {
				continue // stored before (or twice in this batch)
			}
			delete(fresh, r.ID)
			inserted++
			k := dailyKey{r.Time.UTC().Format(time.DateOnly), r.KeyID, r.Provider, r.Model}
			t := daily[k]
			if t == nil {
				t = &Totals{}
				daily[k] = t
				order = append(order, k)
			}
			t.add(r)
		}
	}
	// The same order in every transaction: two instances upserting the
	// same rollup rows then wait for each other instead of deadlocking.
	slices.SortFunc(order, func(a, b dailyKey) int {
		return cmp.Or(strings.Compare(a.day, b.day), strings.Compare(a.keyID, b.keyID),
			strings.Compare(a.provider, b.provider), strings.Compare(a.model, b.model))
	})
	start = 0
	for _, n := range pieces(len(order)) {
		part := order[start : start+n]
		start += n
		st, err := s.stmt(ctx, stmtKey{daily: true, rows: n})
		if err != nil {
			return 0, s.scrub(err)
		}
		args = args[:0]
		for _, k := range part {
			t := daily[k]
			args = append(args, k.day, k.keyID, k.provider, k.model, t.Requests, t.Errors, t.PromptTokens, t.CompletionTokens,
				t.CachedTokens, t.ReasoningTokens, t.CacheWriteTokens, t.CostUSD, t.Unpriced)
		}
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...); err != nil {
			return 0, s.scrub(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, s.scrub(err)
	}
	return inserted, nil
}

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
			&r.DurationMS, &r.TTFTMS, &r.CostUSD, &r.Error); err != nil {
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

// Group names accepted by Report, and the column each reads.
var groupColumns = map[string]string{"day": "day", "model": "model", "provider": "provider", "key": "key_id"}

// GroupNames lists the groups a report can use, in a stable order.
var GroupNames = []string{"day", "model", "provider", "key"}

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
type Report struct {
	From    string      `json:"from"`
	To      string      `json:"to"`
	GroupBy []string    `json:"group_by"`
	Rows    []ReportRow `json:"rows"`
	Totals  ReportRow   `json:"totals"`
}

// ReportRow is one group of a Report: its group values, in GroupBy
// order, and its sums.
type ReportRow struct {
	Group []string // values of the report's GroupBy, in order
	Totals
}

// Report sums the daily rollups (kept forever, so reports reach further
// back than the request rows).
func (s *Store) Report(ctx context.Context, q Query) (*Report, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	cols := make([]string, len(q.GroupBy))
	for i, g := range q.GroupBy {
		cols[i] = groupColumns[g]
	}
	sel := strings.Join(append(slices.Clone(cols), `SUM(requests), SUM(errors), SUM(prompt_tokens), SUM(completion_tokens),
SUM(cached_tokens), SUM(reasoning_tokens), SUM(cache_write_tokens), SUM(cost_usd), SUM(unpriced)`), ", ")
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
		dst := make([]any, 0, len(cols)+9)
		for i := range r.Group {
			dst = append(dst, &r.Group[i])
		}
		// SUM over no rows is NULL: scan through nullable values.
		var n [8]sql.NullInt64
		var cost sql.NullFloat64
		dst = append(dst, &n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &n[6], &cost, &n[7])
		if err := rows.Scan(dst...); err != nil {
			return nil, s.scrub(err)
		}
		if !n[0].Valid {
			continue // no data at all (no GROUP BY)
		}
		r.Requests, r.Errors, r.PromptTokens, r.CompletionTokens = n[0].Int64, n[1].Int64, n[2].Int64, n[3].Int64
		r.CachedTokens, r.ReasoningTokens, r.CacheWriteTokens, r.Unpriced = n[4].Int64, n[5].Int64, n[6].Int64, n[7].Int64
		r.CostUSD = RoundUSD(cost.Float64)
		rep.Rows = append(rep.Rows, r)
		rep.Totals.plus(&r.Totals)
	}
	return rep, s.scrub(rows.Err())
}

// integrityCheck runs SQLite's PRAGMA integrity_check ("ok" when sound).
func (s *Store) integrityCheck(ctx context.Context) (string, error) {
	if s.postgres {
		return "ok", nil
	}
	var res string
	err := s.db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res)
	return res, err
}
