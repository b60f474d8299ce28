package liveconfig

import (
	"context"
	"errors"
	"time"

	"github.com/llmbridge/llmbridge/internal/usage"
)

// The kinds of stored items (config_items.kind).
const (
	KindProvider  = "provider"
	KindRoute     = "route"
	KindPrice     = "price"
	KindCache     = "cache"
	KindAlertRule = "alert_rule"
)

// row is one stored item: body is its YAML without secrets, secret its
// keys in plain text (sealed only on the way to the database).
type row struct {
	Kind, Name, Body, Secret string
}

// id names a row in messages and as the sealed secret's additional data.
func (r row) id() string { return r.Kind + "/" + r.Name }

// store keeps the items, their version and the audit log in the usage
// store's database (migration 0005).
type store struct {
	u    *usage.Store
	seal *Sealer
}

// version reads the stored configuration's version.
func (s *store) version(ctx context.Context) (int64, error) {
	var v int64
	err := s.u.DB().QueryRowContext(ctx, `SELECT version FROM config_version WHERE id = 1`).Scan(&v)
	return v, s.u.Scrub(err)
}

// rows reads every item (secrets opened) and the version they are at,
// in one transaction.
func (s *store) rows(ctx context.Context) ([]row, int64, error) {
	tx, err := s.u.DB().BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, s.u.Scrub(err)
	}
	defer func() { _ = tx.Rollback() }()
	var v int64
	if err := tx.QueryRowContext(ctx, `SELECT version FROM config_version WHERE id = 1`).Scan(&v); err != nil {
		return nil, 0, s.u.Scrub(err)
	}
	q, err := tx.QueryContext(ctx, `SELECT kind, name, body, secret FROM config_items ORDER BY kind, name`)
	if err != nil {
		return nil, 0, s.u.Scrub(err)
	}
	defer q.Close()
	var out []row
	for q.Next() {
		var r row
		if err := q.Scan(&r.Kind, &r.Name, &r.Body, &r.Secret); err != nil {
			return nil, 0, s.u.Scrub(err)
		}
		if r.Secret, err = s.seal.Open(r.Secret, r.id()); err != nil {
			return nil, 0, &unreadable{errors.New(r.id() + ": " + err.Error())}
		}
		out = append(out, r)
	}
	return out, v, s.u.Scrub(q.Err())
}

// write puts and deletes rows and bumps the version, in one transaction.
func (s *store) write(ctx context.Context, puts, dels []row, now time.Time) error {
	sealed := make([]row, len(puts))
	for i, r := range puts {
		var err error
		if r.Secret, err = s.seal.Seal(r.Secret, r.id()); err != nil {
			return err
		}
		sealed[i] = r
	}
	tx, err := s.u.DB().BeginTx(ctx, nil)
	if err != nil {
		return s.u.Scrub(err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, r := range sealed {
		_, err := tx.ExecContext(ctx, `INSERT INTO config_items (kind, name, body, secret, updated_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body, secret = excluded.secret, updated_at = excluded.updated_at`,
			r.Kind, r.Name, r.Body, r.Secret, now.UnixMilli())
		if err != nil {
			return s.u.Scrub(err)
		}
	}
	for _, r := range dels {
		if _, err := tx.ExecContext(ctx, `DELETE FROM config_items WHERE kind = $1 AND name = $2`, r.Kind, r.Name); err != nil {
			return s.u.Scrub(err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE config_version SET version = version + 1 WHERE id = 1`); err != nil {
		return s.u.Scrub(err)
	}
	return s.u.Scrub(tx.Commit())
}

// unreadable is a stored item that does not open or decode: retrying
// cannot help (unlike an unreachable database) until the next change.
type unreadable struct{ err error }

// Error implements error.
func (e *unreadable) Error() string { return e.err.Error() }
