package usage

import (
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
	_ "modernc.org/sqlite"             // database/sql driver "sqlite", pure Go
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

// Name is String, or "off" for a nil Store (the store is off).
func (s *Store) Name() string {
	if s == nil {
		return "off"
	}
	return s.where
}

// Postgres reports whether the store is PostgreSQL.
func (s *Store) Postgres() bool { return s.postgres }

// DB returns the database, for packages that keep their own tables in
// the store's schema (internal/keys: migrations/0002). Statements use
// $1-style placeholders, which both drivers accept. Errors from it may
// hold the PostgreSQL URL's password: pass them through Scrub.
func (s *Store) DB() *sql.DB { return s.db }

// Scrub removes the database password from err's text and names the
// store; nil stays nil.
func (s *Store) Scrub(err error) error { return s.scrub(err) }

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

// integrityCheck runs SQLite's PRAGMA integrity_check ("ok" when sound).
func (s *Store) integrityCheck(ctx context.Context) (string, error) {
	if s.postgres {
		return "ok", nil
	}
	var res string
	err := s.db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res)
	return res, err
}
