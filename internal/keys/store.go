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
created_at, updated_at, expires_at, revoked_at`

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
		models, _ := json.Marshal(k.Models)
		servers, _ := json.Marshal(k.MCPServers)
		_, err := tx.ExecContext(ctx, `INSERT INTO virtual_keys (`+keyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			k.ID, k.Name, k.Owner, hex.EncodeToString(k.hash[:]), k.Last4, string(models), string(servers), k.RPM, k.TPM, k.MaxParallel,
			k.DailyBudgetUSD, k.MonthlyBudgetUSD, k.CreatedAt.UnixMilli(), k.UpdatedAt.UnixMilli(), millis(k.ExpiresAt), nil)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// Get returns the key with id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Key, error) {
	row := s.u.DB().QueryRowContext(ctx, `SELECT `+keyCols+` FROM virtual_keys WHERE id = $1`, id)
	k, err := scanKey(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return k, s.u.Scrub(err)
}

// List returns every key, revoked and expired ones too, oldest first.
func (s *Store) List(ctx context.Context) ([]*Key, error) {
	rows, err := s.u.DB().QueryContext(ctx, `SELECT `+keyCols+` FROM virtual_keys ORDER BY created_at, id`)
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
		if k, err = scanKey(tx.QueryRowContext(ctx, `SELECT `+keyCols+` FROM virtual_keys WHERE id = $1`, id)); err != nil {
			return err
		}
		p.apply(k)
		k.UpdatedAt = now.UTC().Truncate(time.Millisecond)
		models, _ := json.Marshal(k.Models)
		servers, _ := json.Marshal(nonNil(k.MCPServers))
		_, err = tx.ExecContext(ctx, `UPDATE virtual_keys SET name = $1, owner = $2, models = $3, rpm = $4, tpm = $5, max_parallel = $6,
daily_budget_usd = $7, monthly_budget_usd = $8, updated_at = $9, expires_at = $10, mcp_servers = $11 WHERE id = $12`,
			k.Name, k.Owner, string(models), k.RPM, k.TPM, k.MaxParallel, k.DailyBudgetUSD, k.MonthlyBudgetUSD,
			k.UpdatedAt.UnixMilli(), millis(k.ExpiresAt), string(servers), id)
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
		if k, err = scanKey(tx.QueryRowContext(ctx, `SELECT `+keyCols+` FROM virtual_keys WHERE id = $1`, id)); err != nil {
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
	day, month := now.UTC().Format(time.DateOnly), now.UTC().Format("2006-01")+"-01"
	rows, err := s.u.DB().QueryContext(ctx, `SELECT key_id,
 SUM(CASE WHEN day = $1 THEN cost_usd ELSE 0 END), SUM(CASE WHEN day >= $2 THEN cost_usd ELSE 0 END), SUM(cost_usd)
 FROM usage_daily WHERE key_id <> '' GROUP BY key_id`, day, month)
	if err != nil {
		return nil, s.u.Scrub(err)
	}
	defer rows.Close()
	out := map[string]Spend{}
	for rows.Next() {
		var id string
		var sp Spend
		if err := rows.Scan(&id, &sp.TodayUSD, &sp.MonthUSD, &sp.TotalUSD); err != nil {
			return nil, s.u.Scrub(err)
		}
		out[id] = Spend{usage.RoundUSD(sp.TodayUSD), usage.RoundUSD(sp.MonthUSD), usage.RoundUSD(sp.TotalUSD)}
	}
	return out, s.u.Scrub(rows.Err())
}

// tx runs f in a transaction that also bumps the key version.
func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.u.DB().BeginTx(ctx, nil)
	if err != nil {
		return s.u.Scrub(err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := f(tx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return s.u.Scrub(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE virtual_keys_version SET version = version + 1 WHERE id = 1`); err != nil {
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
		&k.DailyBudgetUSD, &k.MonthlyBudgetUSD, &created, &updated, &expires, &revoked); err != nil {
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
