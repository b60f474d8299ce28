package liveconfig

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"database/sql"
	"errors"
	"time"
)

// Revoke remembers that the admin UI session id was signed out, until
// its cookie expires, for every replica sharing the store (it implements
// internal/admin/ui's Revocations). Rows past their expiry go meanwhile.
func (m *Manager) Revoke(ctx context.Context, id string, until time.Time) error {
	db := m.st.u.DB()
	now := m.o.Now().UnixMilli()
	if _, err := db.ExecContext(ctx, `DELETE FROM admin_session_revocations WHERE expires < $1`, now); err != nil {
		return m.st.u.Scrub(err)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO admin_session_revocations (id, expires) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
		id, until.UnixMilli())
	return m.st.u.Scrub(err)
}

// Revoked reports whether the admin UI session id was signed out.
func (m *Manager) Revoked(ctx context.Context, id string) (bool, error) {
	var one int
	err := m.st.u.DB().QueryRowContext(ctx, `SELECT 1 FROM admin_session_revocations WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, m.st.u.Scrub(err)
}

// DeriveKey returns 32 bytes derived (HKDF-SHA256) from the sealing key
// for purpose, creating the key file if need be: keys for other uses
// (the admin UI's session cookies) that every replica with the same
// LLMBRIDGE_SECRET_KEY shares, and that reveal nothing of the sealing
// key itself.
func (s *Sealer) DeriveKey(purpose string) ([]byte, error) {
	if s.env != "" {
		k := sha256.Sum256([]byte(s.env))
		return hkdf.Key(sha256.New, k[:], nil, "llmbridge "+purpose, 32)
	}
	k, err := readOrCreateKey(s.path, true)
	if err != nil {
		return nil, err
	}
	return hkdf.Key(sha256.New, k[:], nil, "llmbridge "+purpose, 32)
}

// SessionSecret is the secret the admin UI seals its session cookies
// with (beside the admin key): derived from the sealing key.
func (m *Manager) SessionSecret() ([]byte, error) {
	return m.o.Sealer.DeriveKey("admin session secret")
}
