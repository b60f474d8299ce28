package keys

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/llmbridge/llmbridge/internal/usage"
)

// ErrNotFound is returned for a key id the store does not have.
var ErrNotFound = errors.New("no such key")

// Store keeps virtual keys in the usage store's database (table
// virtual_keys, migration 0002). It is safe for concurrent use; several
// processes may share one database.
type Store struct {
	u *usage.Store
}

// NewStore returns the key store of a usage store.
func NewStore(u *usage.Store) *Store { return &Store{u: u} }

const keyCols = `id, name, owner, secret_sha256, last4, models, mcp_servers, rpm, tpm, max_parallel, daily_budget_usd, monthly_budget_usd,
created_at, updated_at, expires_at, revoked_at, team_id`

// selectKeys reads keys with their team's name.
const selectKeys = `SELECT k.id, k.name, k.owner, k.secret_sha256, k.last4, k.models, k.mcp_servers, k.rpm, k.tpm, k.max_parallel,
k.daily_budget_usd, k.monthly_budget_usd, k.created_at, k.updated_at, k.expires_at, k.revoked_at, k.team_id, COALESCE(t.name, '')
FROM virtual_keys k LEFT JOIN teams t ON t.id = k.team_id`

// Create stores a new key from p (its name is required) and returns it
// with its secret, which is not kept and cannot be shown again.
func (s *Store) Create(ctx context.Context, p *Params, now time.Time) (*Key, string, error) {
	if err := p.Validate(); err != nil {
		return nil, "", err
	}
	if p.Name == nil || *p.Name == "" {
		return nil, "", &FieldError{"name", "required: a name for the key (the person or app using it)"}
	}
	secret := NewSecret()
	now = now.UTC().Truncate(time.Millisecond)
	k := &Key{ID: newID(), Last4: secret[len(secret)-4:], CreatedAt: now, UpdatedAt: now, hash: digest(secret)}
	p.apply(k)
	k.Models, k.MCPServers = nonNil(k.Models), nonNil(k.MCPServers)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := joinTeam(ctx, tx, k, p.Team); err != nil {
			return err
		}
		models, _ := json.Marshal(k.Models)
		servers, _ := json.Marshal(k.MCPServers)
		_, err := tx.ExecContext(ctx, `INSERT INTO virtual_keys (`+keyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			k.ID, k.Name, k.Owner, hex.EncodeToString(k.hash[:]), k.Last4, string(models), string(servers), k.RPM, k.TPM, k.MaxParallel,
			k.DailyBudgetUSD, k.MonthlyBudgetUSD, k.CreatedAt.UnixMilli(), k.UpdatedAt.UnixMilli(), millis(k.ExpiresAt), nil, k.TeamID)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// joinTeam sets k's team from ref (a team's id or name; "" for none; nil
// leaves it), inside tx: a team deleted meanwhile cannot be joined.
func joinTeam(ctx context.Context, tx *sql.Tx, k *Key, ref *string) error {
	if ref == nil {
		return nil
	}
	if *ref == "" {
		k.TeamID, k.Team = "", ""
		return nil
	}
	err := tx.QueryRowContext(ctx, `SELECT id, name FROM teams WHERE id = $1 OR LOWER(name) = LOWER($1)
ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1`, *ref).Scan(&k.TeamID, &k.Team)
	if errors.Is(err, sql.ErrNoRows) {
		return &FieldError{"team", fmt.Sprintf("there is no team named or with the id %q (GET /admin/api/teams lists them)", clip(*ref))}
	}
	return err
}

// Get returns the key with id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Key, error) {
	row := s.u.DB().QueryRowContext(ctx, selectKeys+` WHERE k.id = $1`, id)
	k, err := scanKey(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return k, s.u.Scrub(err)
}

// Filter selects keys for ListWhere; an empty field selects any.
type Filter struct {
	Owner  string // exactly this owner (Key.Owner, case-sensitive)
	TeamID string // members of this team ("tm_…")
}

// List returns every key, revoked and expired ones too, oldest first.
func (s *Store) List(ctx context.Context) ([]*Key, error) { return s.ListWhere(ctx, Filter{}) }

// ListWhere returns the keys f selects, revoked and expired ones too,
// oldest first: Filter{Owner: email} is one person's keys.
func (s *Store) ListWhere(ctx context.Context, f Filter) ([]*Key, error) {
	q, args := selectKeys+` WHERE 1 = 1`, []any{}
	if f.Owner != "" {
		args = append(args, f.Owner)
		q += fmt.Sprintf(` AND k.owner = $%d`, len(args))
	}
	if f.TeamID != "" {
		args = append(args, f.TeamID)
		q += fmt.Sprintf(` AND k.team_id = $%d`, len(args))
	}
	rows, err := s.u.DB().QueryContext(ctx, q+` ORDER BY k.created_at, k.id`, args...)
	if err != nil {
		return nil, s.u.Scrub(err)
	}
	defer rows.Close()
	var out []*Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, s.u.Scrub(err)
		}
		out = append(out, k)
	}
	return out, s.u.Scrub(rows.Err())
}

// Update changes the fields p sets and returns the key, or ErrNotFound.
// A revoked key can be updated but stays revoked.
func (s *Store) Update(ctx context.Context, id string, p *Params, now time.Time) (*Key, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Name != nil && *p.Name == "" {
		return nil, &FieldError{"name", "must not be empty"}
	}
	var k *Key
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if k, err = scanKey(tx.QueryRowContext(ctx, selectKeys+` WHERE k.id = $1`, id)); err != nil {
			return err
		}
		p.apply(k)
		if err := joinTeam(ctx, tx, k, p.Team); err != nil {
			return err
		}
		k.UpdatedAt = now.UTC().Truncate(time.Millisecond)
		models, _ := json.Marshal(k.Models)
		servers, _ := json.Marshal(nonNil(k.MCPServers))
		_, err = tx.ExecContext(ctx, `UPDATE virtual_keys SET name = $1, owner = $2, models = $3, rpm = $4, tpm = $5, max_parallel = $6,
daily_budget_usd = $7, monthly_budget_usd = $8, updated_at = $9, expires_at = $10, mcp_servers = $11, team_id = $12 WHERE id = $13`,
			k.Name, k.Owner, string(models), k.RPM, k.TPM, k.MaxParallel, k.DailyBudgetUSD, k.MonthlyBudgetUSD,
			k.UpdatedAt.UnixMilli(), millis(k.ExpiresAt), string(servers), k.TeamID, id)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return k, err
}

// Revoke revokes the key (for good: a revoked key is refused like an
// unknown one) and returns it, or ErrNotFound. Revoking twice keeps the
// first time.
func (s *Store) Revoke(ctx context.Context, id string, now time.Time) (*Key, error) {
	var k *Key
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if k, err = scanKey(tx.QueryRowContext(ctx, selectKeys+` WHERE k.id = $1`, id)); err != nil {
			return err
		}
		if k.RevokedAt != nil {
			return nil
		}
		t := now.UTC().Truncate(time.Millisecond)
		k.RevokedAt, k.UpdatedAt = &t, t
		_, err = tx.ExecContext(ctx, `UPDATE virtual_keys SET revoked_at = $1, updated_at = $1 WHERE id = $2`, t.UnixMilli(), id)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return k, err
}

// Version returns a number that changes with every change to the keys.
func (s *Store) Version(ctx context.Context) (int64, error) {
	var v int64
	err := s.u.DB().QueryRowContext(ctx, `SELECT version FROM virtual_keys_version WHERE id = 1`).Scan(&v)
	return v, s.u.Scrub(err)
}

// Spend is what a key's finished requests cost (priced ones; from the
// usage store's daily totals, so up to a moment behind).
type Spend struct {
	TodayUSD float64 `json:"today_usd"` // this UTC day
	MonthUSD float64 `json:"month_usd"` // this UTC month
	TotalUSD float64 `json:"total_usd"` // ever
}

// Spend returns the spend of every key_id (virtual and static) that has
// any, as of now.
func (s *Store) Spend(ctx context.Context, now time.Time) (map[string]Spend, error) {
	return s.spend(ctx, "key_id", now)
}

// tx runs f in a transaction that also bumps the key version (teams
// included: the admitter reloads both). The version row is updated
// first: its row lock makes every change to keys and teams wait for the
// one before on PostgreSQL (SQLite's transactions take the write lock at
// once anyway), so a key cannot join a team that a concurrent delete
// found unused.
func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.u.DB().BeginTx(ctx, nil)
	if err != nil {
		return s.u.Scrub(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `UPDATE virtual_keys_version SET version = version + 1 WHERE id = 1`); err != nil {
		return s.u.Scrub(err)
	}
	if err := f(tx); err != nil {
		var fe *FieldError
		var inUse *TeamInUseError
		if errors.Is(err, sql.ErrNoRows) || errors.Is(err, ErrTeamExists) || errors.As(err, &fe) || errors.As(err, &inUse) {
			return err
		}
		return s.u.Scrub(err)
	}
	return s.u.Scrub(tx.Commit())
}

type scanner interface{ Scan(dst ...any) error }

func scanKey(r scanner) (*Key, error) {
	var k Key
	var hash, models, servers string
	var created, updated int64
	var expires, revoked sql.NullInt64
	if err := r.Scan(&k.ID, &k.Name, &k.Owner, &hash, &k.Last4, &models, &servers, &k.RPM, &k.TPM, &k.MaxParallel,
		&k.DailyBudgetUSD, &k.MonthlyBudgetUSD, &created, &updated, &expires, &revoked, &k.TeamID, &k.Team); err != nil {
		return nil, err
	}
	if b, err := hex.DecodeString(hash); err != nil || len(b) != len(k.hash) {
		return nil, fmt.Errorf("key %s: stored digest is not SHA-256 hex", k.ID)
	} else {
		copy(k.hash[:], b)
	}
	if err := json.Unmarshal([]byte(models), &k.Models); err != nil {
		return nil, fmt.Errorf("key %s: stored models: %w", k.ID, err)
	}
	if err := json.Unmarshal([]byte(servers), &k.MCPServers); err != nil {
		return nil, fmt.Errorf("key %s: stored mcp_servers: %w", k.ID, err)
	}
	k.Models, k.MCPServers = nonNil(k.Models), nonNil(k.MCPServers)
	k.CreatedAt, k.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	k.ExpiresAt, k.RevokedAt = fromMillis(expires), fromMillis(revoked)
	return &k, nil
}

// nonNil is l, or an empty list for nil (stored and shown as []).
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func millis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func fromMillis(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := time.UnixMilli(v.Int64).UTC()
	return &t
}
