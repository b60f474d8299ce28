package liveconfig

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"
)

// Entry is one admin action of the audit log. Fields are the changed
// fields; never a secret (a key shows as api_key_set).
type Entry struct {
	ID     string         `json:"id"`
	Time   time.Time      `json:"time"`
	Actor  string         `json:"actor"`  // "admin key", "ui session", "first-run link"
	Action string         `json:"action"` // e.g. provider.create, key.revoke, signin
	Target string         `json:"target"`
	Fields map[string]any `json:"fields"`
}

// Audit appends e to the audit log (its ID and Time are set here).
func (m *Manager) Audit(ctx context.Context, e Entry) error {
	return appendAudit(ctx, m.st, e, m.o.Now())
}

// auditSeq orders this process's entries within one millisecond.
var auditSeq atomic.Uint32

func appendAudit(ctx context.Context, s *store, e Entry, now time.Time) error {
	var r [4]byte
	_, _ = rand.Read(r[:])
	ms := now.UnixMilli()
	id := fmt.Sprintf("%013x%08x%s", ms, auditSeq.Add(1), hex.EncodeToString(r[:]))
	if e.Fields == nil {
		e.Fields = map[string]any{}
	}
	fields, err := json.Marshal(e.Fields)
	if err != nil {
		return err
	}
	_, err = s.u.DB().ExecContext(ctx, `INSERT INTO audit_log (id, ts, actor, action, target, fields) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, ms, e.Actor, e.Action, e.Target, string(fields))
	return s.u.Scrub(err)
}

// AuditLog returns up to limit entries, newest first, older than the
// entry before ("" for the newest).
func (m *Manager) AuditLog(ctx context.Context, limit int, before string) ([]Entry, error) {
	if before == "" {
		before = "~" // sorts after every id
	}
	rows, err := m.st.u.DB().QueryContext(ctx, `SELECT id, ts, actor, action, target, fields FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2`, before, limit)
	if err != nil {
		return nil, m.st.u.Scrub(err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		var ms int64
		var fields string
		if err := rows.Scan(&e.ID, &ms, &e.Actor, &e.Action, &e.Target, &fields); err != nil {
			return nil, m.st.u.Scrub(err)
		}
		e.Time = time.UnixMilli(ms).UTC()
		_ = json.Unmarshal([]byte(fields), &e.Fields)
		out = append(out, e)
	}
	return out, m.st.u.Scrub(rows.Err())
}
