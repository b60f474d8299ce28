package keys

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/models"
	"unicode"
	"unicode/utf8"
)

// SecretPrefix starts every virtual key's secret.
const SecretPrefix = "sk-lb-"

// Limits are what a key may use; a zero field is no limit.
type Limits struct {
	RPM              int64   `json:"rpm" yaml:"rpm"`                               // requests per minute
	TPM              int64   `json:"tpm" yaml:"tpm"`                               // tokens (prompt + completion) per minute
	MaxParallel      int64   `json:"max_parallel" yaml:"max_parallel"`             // requests and streams in flight
	DailyBudgetUSD   float64 `json:"daily_budget_usd" yaml:"daily_budget_usd"`     // spend per UTC day
	MonthlyBudgetUSD float64 `json:"monthly_budget_usd" yaml:"monthly_budget_usd"` // spend per UTC month
}

// IsZero reports whether no limit is set.
func (l Limits) IsZero() bool { return l == Limits{} }

// budgeted reports whether a budget is set.
func (l Limits) budgeted() bool { return l.DailyBudgetUSD > 0 || l.MonthlyBudgetUSD > 0 }

// Policy is what one key may do: the models it may call and its limits.
type Policy struct {
	// Models are patterns of the model names the key may ask for, as the
	// client sends them ("openai/*", "deepseek/deepseek-chat", a route
	// name); "*" matches any run of characters, "/" included. Empty: any
	// model.
	Models []string `json:"models" yaml:"models"`
	// MCPServers are patterns of the MCP servers (the YAML file's
	// mcp.servers names) whose tools, prompts and resources the key may
	// see and use through /mcp; "*" matches any run of characters.
	// Empty: every server for an access key (ACCESS_API_KEYS and the
	// YAML file's keys: entries), none for a virtual key, which names its
	// servers ("*": every one), so a key made before the MCP gateway, or
	// for models only, never gains tools (Admitter.MCPAccess).
	MCPServers []string `json:"mcp_servers" yaml:"mcp_servers"`
	Limits     `yaml:",inline"`
}

// AllowsMCP reports whether the policy lets the key use the MCP server
// named server.
func (p *Policy) AllowsMCP(server string) bool {
	if len(p.MCPServers) == 0 {
		return true
	}
	for _, m := range p.MCPServers {
		if Match(m, server) {
			return true
		}
	}
	return false
}

// Allows reports whether the policy lets the key call model.
func (p *Policy) Allows(model string) bool {
	if len(p.Models) == 0 {
		return true
	}
	for _, m := range p.Models {
		if Match(m, model) {
			return true
		}
	}
	return false
}

// Match reports whether name matches pattern, where "*" matches any run
// of characters (including "/") and every other character itself: the
// same rule as the providers' model families (internal/models).
func Match(pattern, name string) bool { return models.Match(pattern, name) }

// Key is a virtual key as stored and shown: never its secret.
type Key struct {
	ID    string `json:"id"` // "vk_" and 16 hex digits; the KeyID of its usage records
	Name  string `json:"name"`
	Owner string `json:"owner"` // who uses it: a person (the signed-in user's email), or a tag
	// TeamID is the key's team ("" for none); Team is that team's name, ""
	// when the team no longer exists (a revoked key keeps its team's id).
	TeamID string `json:"team_id"`
	Team   string `json:"team"`
	Policy
	Last4     string     `json:"last4"` // the secret's last four characters
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	ExpiresAt *time.Time `json:"expires_at"` // nil: never
	RevokedAt *time.Time `json:"revoked_at"` // nil: not revoked

	hash [sha256.Size]byte
}

// Active reports whether the key may be used at now: not revoked and not
// expired.
func (k *Key) Active(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// NewSecret returns a new secret: SecretPrefix and 43 characters of
// URL-safe base64 (256 random bits).
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// newID returns a new key id.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "vk_" + hex.EncodeToString(b[:])
}

// ValidID reports whether id has the form of a key id ("vk_" and 16
// lower-case hex digits).
func ValidID(id string) bool { return validID(id, "vk_") }

// validID reports whether id is prefix and 16 lower-case hex digits.
func validID(id, prefix string) bool {
	if len(id) != 19 || !strings.HasPrefix(id, prefix) {
		return false
	}
	for i := 3; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// FieldError is bad input naming the field it is about.
type FieldError struct {
	Field   string // the JSON name ("rpm", "models[2]", "expires_at")
	Message string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Params are the fields of a create or update request
// (POST /admin/api/keys, PATCH /admin/api/keys/{id}, the keys command).
// A nil field is not changed by an update; on create it is empty or no
// limit. 0 is no limit; "" or null in expires_at is never.
type Params struct {
	Name             *string   `json:"name"`
	Owner            *string   `json:"owner"`
	Team             *string   `json:"team"` // the team's name or id; "" for none
	Models           *[]string `json:"models"`
	MCPServers       *[]string `json:"mcp_servers"`
	RPM              *int64    `json:"rpm"`
	TPM              *int64    `json:"tpm"`
	MaxParallel      *int64    `json:"max_parallel"`
	DailyBudgetUSD   *float64  `json:"daily_budget_usd"`
	MonthlyBudgetUSD *float64  `json:"monthly_budget_usd"`
	ExpiresAt        *string   `json:"expires_at"`
}

// Limits on the fields, so that nothing unbounded reaches the store.
const (
	MaxNameLen    = 200
	maxPatterns   = 100
	maxPatternLen = 200
	maxLimit      = 1 << 40
	maxBudget     = 1e9
)

// keyMembers are Params' JSON members.
var keyMembers = []string{"name", "owner", "team", "models", "mcp_servers", "rpm", "tpm", "max_parallel", "daily_budget_usd", "monthly_budget_usd", "expires_at"}

// ParseParams decodes a JSON object of Params. Unknown fields, fields
// spelled in another case ("Name"), repeated fields, wrong types,
// trailing data and values Validate refuses are *FieldError naming the
// field (or "body").
func ParseParams(body []byte) (*Params, error) {
	if err := strictMembers(body, keyMembers); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var p Params
	if err := dec.Decode(&p); err != nil {
		return nil, jsonFieldError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &FieldError{Field: "body", Message: "want one JSON object"}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

func jsonFieldError(err error) error {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && te.Field != "":
		field := te.Field[strings.LastIndexByte(te.Field, '.')+1:] // "Limits.rpm": the embedded struct's member
		return &FieldError{Field: field, Message: fmt.Sprintf("want %s, not a JSON %s", te.Type, te.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if unq := strings.Trim(name, `"`); unq != "" {
			name = unq // an empty name stays `""`, still naming the field
		}
		return &FieldError{Field: name, Message: "unknown field (there are " + strings.Join(keyMembers, ", ") + ")"}
	}
	return &FieldError{Field: "body", Message: "not a JSON object of key fields: " + err.Error()}
}

// Validate checks every field that is set.
func (p *Params) Validate() error {
	if p.Name != nil {
		if err := text("name", *p.Name); err != nil {
			return err
		}
	}
	if p.Owner != nil {
		if err := text("owner", *p.Owner); err != nil {
			return err
		}
	}
	if p.Team != nil && *p.Team != "" && !ValidTeamID(*p.Team) {
		if err := ValidTeamName(*p.Team); err != nil {
			return &FieldError{"team", fmt.Sprintf("%q is neither a team id nor a team name", clip(*p.Team))}
		}
	}
	if err := patterns("models", "a model name or pattern (\"openai/*\")", p.Models); err != nil {
		return err
	}
	if err := patterns("mcp_servers", "an MCP server name or pattern (\"team-*\")", p.MCPServers); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"rpm", p.RPM}, {"tpm", p.TPM}, {"max_parallel", p.MaxParallel}} {
		if f.v != nil && (*f.v < 0 || *f.v > maxLimit) {
			return &FieldError{f.name, fmt.Sprintf("%d: want 0 (no limit) or a positive number up to %d", *f.v, int64(maxLimit))}
		}
	}
	for _, f := range []struct {
		name string
		v    *float64
	}{{"daily_budget_usd", p.DailyBudgetUSD}, {"monthly_budget_usd", p.MonthlyBudgetUSD}} {
		if f.v != nil && (*f.v < 0 || *f.v > maxBudget || math.IsNaN(*f.v) || math.IsInf(*f.v, 0)) {
			return &FieldError{f.name, fmt.Sprintf("%v: want 0 (no budget) or a positive number of USD", *f.v)}
		}
	}
	if p.ExpiresAt != nil && *p.ExpiresAt != "" {
		if _, err := time.Parse(time.RFC3339, *p.ExpiresAt); err != nil {
			return &FieldError{"expires_at", fmt.Sprintf("%q is not an RFC 3339 time (2026-12-31T23:59:59Z)", *p.ExpiresAt)}
		}
	}
	return nil
}

// patterns checks a list of name patterns (nil: not set).
func patterns(field, want string, list *[]string) error {
	if list == nil {
		return nil
	}
	if len(*list) > maxPatterns {
		return &FieldError{field, fmt.Sprintf("at most %d patterns", maxPatterns)}
	}
	for i, m := range *list {
		if m == "" || len(m) > maxPatternLen || !utf8.ValidString(m) || strings.IndexFunc(m, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
			return &FieldError{fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("want %s of 1 to %d characters without spaces", want, maxPatternLen)}
		}
	}
	return nil
}

func text(field, s string) error {
	switch {
	case len(s) > MaxNameLen:
		return &FieldError{field, fmt.Sprintf("%d bytes: at most %d", len(s), MaxNameLen)}
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
		return &FieldError{field, "must be UTF-8 text without control characters"}
	}
	return nil
}

// apply sets k's fields from the non-nil params (validated).
func (p *Params) apply(k *Key) {
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	if p.Name != nil {
		k.Name = *p.Name
	}
	if p.Owner != nil {
		k.Owner = *p.Owner
	}
	if p.Models != nil {
		k.Models = append([]string{}, *p.Models...)
	}
	if p.MCPServers != nil {
		k.MCPServers = append([]string{}, *p.MCPServers...)
	}
	set(&k.RPM, p.RPM)
	set(&k.TPM, p.TPM)
	set(&k.MaxParallel, p.MaxParallel)
	if p.DailyBudgetUSD != nil {
		k.DailyBudgetUSD = *p.DailyBudgetUSD
	}
	if p.MonthlyBudgetUSD != nil {
		k.MonthlyBudgetUSD = *p.MonthlyBudgetUSD
	}
	if p.ExpiresAt != nil {
		k.ExpiresAt = nil
		if *p.ExpiresAt != "" {
			t, _ := time.Parse(time.RFC3339, *p.ExpiresAt)
			t = t.UTC()
			k.ExpiresAt = &t
		}
	}
}

// digest is the SHA-256 of a secret, the form the store keeps.
func digest(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }

// clip shortens what is echoed back in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
