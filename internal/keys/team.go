package keys

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/usage"
)

// Team is a group of virtual keys whose limits and budgets hold on top of
// each key's own: a request needs room under both. Its models restrict
// its keys' models too (a key may call a model only when both allow it).
type Team struct {
	ID     string   `json:"id"` // "tm_" and 16 hex digits
	Name   string   `json:"name"`
	Models []string `json:"models"` // patterns as Policy.Models; empty: any model
	Limits
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// policy is the team as the admitter checks it.
func (t *Team) policy() Policy { return Policy{Models: t.Models, Limits: t.Limits} }

// TeamParams are the body of POST /admin/api/teams and PUT
// /admin/api/teams/{id}: the whole team (a PUT replaces every field; one
// left out is empty or no limit). Name is required.
type TeamParams struct {
	Name   string   `json:"name"`
	Models []string `json:"models"`
	Limits
}

// teamMembers are TeamParams' JSON members.
var teamMembers = []string{"name", "models", "rpm", "tpm", "max_parallel", "daily_budget_usd", "monthly_budget_usd"}

// MaxTeamNameLen bounds a team's name.
const MaxTeamNameLen = 64

// ErrTeamNotFound is returned for a team id or name the store does not
// have.
var ErrTeamNotFound = errors.New("no such team")

// ErrTeamExists is returned when another team has the name (names are
// unique whatever their case).
var ErrTeamExists = errors.New("a team with this name exists")

// TeamInUseError refuses to delete a team that live keys (not revoked)
// still belong to: their requests would lose the team's limits and
// budgets. Move or revoke them first.
type TeamInUseError struct{ Keys int }

// Error implements error.
func (e *TeamInUseError) Error() string {
	return fmt.Sprintf("%d live key(s) belong to this team: move them to another team (or none) or revoke them first", e.Keys)
}

// ParseTeamParams decodes a JSON object of TeamParams: unknown members,
// members spelled in another case ("Name"), repeated members, wrong
// types, trailing data and values Validate refuses are *FieldError
// naming the member (or "body").
func ParseTeamParams(body []byte) (*TeamParams, error) {
	if err := strictMembers(body, teamMembers); err != nil {
		return nil, err
	}
	var p TeamParams
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, jsonFieldError(err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks every field (the name is required).
func (p *TeamParams) Validate() error {
	if err := ValidTeamName(p.Name); err != nil {
		return err
	}
	kp := Params{Models: &p.Models, RPM: &p.RPM, TPM: &p.TPM, MaxParallel: &p.MaxParallel,
		DailyBudgetUSD: &p.DailyBudgetUSD, MonthlyBudgetUSD: &p.MonthlyBudgetUSD}
	return kp.Validate()
}

// ValidTeamName checks a team's name: 1 to MaxTeamNameLen letters,
// digits, spaces, dots, underscores and hyphens, starting and ending with
// a letter or digit, and not of the form of a team id (a key names its
// team by either).
func ValidTeamName(name string) error {
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	bad := name == "" || len(name) > MaxTeamNameLen || !alnum(name[0]) || !alnum(name[len(name)-1])
	for i := 0; i < len(name) && !bad; i++ {
		bad = !alnum(name[i]) && !strings.ContainsRune(" ._-", rune(name[i]))
	}
	switch {
	case bad:
		return &FieldError{"name", fmt.Sprintf("want 1 to %d letters, digits, spaces, dots, underscores or hyphens, starting and ending with a letter or digit", MaxTeamNameLen)}
	case ValidTeamID(name):
		return &FieldError{"name", "must not have the form of a team id (tm_ and 16 hex digits)"}
	}
	return nil
}

// ValidTeamID reports whether id has the form of a team id ("tm_" and 16
// lower-case hex digits).
func ValidTeamID(id string) bool { return validID(id, "tm_") }

func newTeamID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "tm_" + hex.EncodeToString(b[:])
}

const teamCols = `id, name, models, rpm, tpm, max_parallel, daily_budget_usd, monthly_budget_usd, created_at, updated_at`

// CreateTeam stores a new team (ErrTeamExists when the name is taken).
func (s *Store) CreateTeam(ctx context.Context, p *TeamParams, now time.Time) (*Team, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Millisecond)
	t := &Team{ID: newTeamID(), Name: p.Name, Models: nonNil(p.Models), Limits: p.Limits, CreatedAt: now, UpdatedAt: now}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := nameFree(ctx, tx, t.Name, ""); err != nil {
			return err
		}
		models, _ := json.Marshal(t.Models)
		_, err := tx.ExecContext(ctx, `INSERT INTO teams (`+teamCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			t.ID, t.Name, string(models), t.RPM, t.TPM, t.MaxParallel, t.DailyBudgetUSD, t.MonthlyBudgetUSD, now.UnixMilli(), now.UnixMilli())
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// nameFree returns ErrTeamExists when a team other than id has name.
func nameFree(ctx context.Context, tx *sql.Tx, name, id string) error {
	var other string
	err := tx.QueryRowContext(ctx, `SELECT id FROM teams WHERE LOWER(name) = LOWER($1) AND id <> $2`, name, id).Scan(&other)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err == nil:
		return ErrTeamExists
	}
	return err
}

// Team returns the team with id ref, or else the one named ref (any
// case), or ErrTeamNotFound.
func (s *Store) Team(ctx context.Context, ref string) (*Team, error) {
	t, err := scanTeam(s.u.DB().QueryRowContext(ctx, `SELECT `+teamCols+` FROM teams WHERE id = $1 OR LOWER(name) = LOWER($1)
ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrTeamNotFound
	}
	return t, s.u.Scrub(err)
}

// Teams returns every team, by name.
func (s *Store) Teams(ctx context.Context) ([]*Team, error) {
	rows, err := s.u.DB().QueryContext(ctx, `SELECT `+teamCols+` FROM teams ORDER BY LOWER(name), id`)
	if err != nil {
		return nil, s.u.Scrub(err)
	}
	defer rows.Close()
	out := []*Team{}
	for rows.Next() {
		t, err := scanTeam(rows)
		if err != nil {
			return nil, s.u.Scrub(err)
		}
		out = append(out, t)
	}
	return out, s.u.Scrub(rows.Err())
}

// ReplaceTeam replaces every field of the team with id and returns it
// (ErrTeamNotFound, ErrTeamExists).
func (s *Store) ReplaceTeam(ctx context.Context, id string, p *TeamParams, now time.Time) (*Team, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var t *Team
	err := s.tx(ctx, func(tx *sql.Tx) error {
		old, err := scanTeam(tx.QueryRowContext(ctx, `SELECT `+teamCols+` FROM teams WHERE id = $1`, id))
		if err != nil {
			return err
		}
		if err := nameFree(ctx, tx, p.Name, id); err != nil {
			return err
		}
		t = &Team{ID: id, Name: p.Name, Models: nonNil(p.Models), Limits: p.Limits, CreatedAt: old.CreatedAt, UpdatedAt: now.UTC().Truncate(time.Millisecond)}
		models, _ := json.Marshal(t.Models)
		_, err = tx.ExecContext(ctx, `UPDATE teams SET name = $1, models = $2, rpm = $3, tpm = $4, max_parallel = $5, daily_budget_usd = $6,
monthly_budget_usd = $7, updated_at = $8 WHERE id = $9`, t.Name, string(models), t.RPM, t.TPM, t.MaxParallel, t.DailyBudgetUSD,
			t.MonthlyBudgetUSD, t.UpdatedAt.UnixMilli(), id)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrTeamNotFound
	}
	return t, err
}

// DeleteTeam deletes the team with id: ErrTeamNotFound, or a
// *TeamInUseError while live keys (not revoked) belong to it. Revoked
// keys keep the id of the team they had, as their usage records do.
func (s *Store) DeleteTeam(ctx context.Context, id string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM virtual_keys WHERE team_id = $1 AND revoked_at IS NULL`, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return &TeamInUseError{Keys: n}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM teams WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if gone, _ := res.RowsAffected(); gone == 0 {
			return sql.ErrNoRows
		}
		return nil
	})
	if errors.Is(err, sql.ErrNoRows) {
		return ErrTeamNotFound
	}
	return err
}

// TeamKeys counts the live keys (not revoked) of every team that has any.
func (s *Store) TeamKeys(ctx context.Context) (map[string]int, error) {
	rows, err := s.u.DB().QueryContext(ctx, `SELECT team_id, COUNT(*) FROM virtual_keys WHERE team_id <> '' AND revoked_at IS NULL GROUP BY team_id`)
	if err != nil {
		return nil, s.u.Scrub(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, s.u.Scrub(err)
		}
		out[id] = n
	}
	return out, s.u.Scrub(rows.Err())
}

// TeamSpend returns the spend of every team that has any, as of now: what
// its keys' requests cost while they belonged to it (usage records carry
// the team they were made under).
func (s *Store) TeamSpend(ctx context.Context, now time.Time) (map[string]Spend, error) {
	return s.spend(ctx, "team_id", now)
}

// spend sums usage_daily's cost per value of col (key_id or team_id).
func (s *Store) spend(ctx context.Context, col string, now time.Time) (map[string]Spend, error) {
	day, month := now.UTC().Format(time.DateOnly), now.UTC().Format("2006-01")+"-01"
	rows, err := s.u.DB().QueryContext(ctx, `SELECT `+col+`,
 SUM(CASE WHEN day = $1 THEN cost_usd ELSE 0 END), SUM(CASE WHEN day >= $2 THEN cost_usd ELSE 0 END), SUM(cost_usd)
 FROM usage_daily WHERE `+col+` <> '' GROUP BY `+col, day, month)
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

func scanTeam(r scanner) (*Team, error) {
	var t Team
	var models string
	var created, updated int64
	if err := r.Scan(&t.ID, &t.Name, &models, &t.RPM, &t.TPM, &t.MaxParallel, &t.DailyBudgetUSD, &t.MonthlyBudgetUSD, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(models), &t.Models); err != nil {
		return nil, fmt.Errorf("team %s: stored models: %w", t.ID, err)
	}
	t.Models = nonNil(t.Models)
	t.CreatedAt, t.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return &t, nil
}
