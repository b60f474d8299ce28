package admin

import (
	"context"
	"net/http"
	"strings"

	"github.com/llmbridge/llmbridge/internal/keys"
)

// Role is what a signed-in person may do in the admin UI and API.
type Role string

// The roles. The admin key (Bearer, or the UI signed in with it) is
// always RoleAdmin; single sign-on maps people to a role (internal/sso).
const (
	// RoleAdmin may do everything.
	RoleAdmin Role = "admin"
	// RoleViewer may read everything and change nothing: every method
	// but GET, HEAD and OPTIONS is refused 403.
	RoleViewer Role = "viewer"
	// RoleMember may only list, create, change and revoke the virtual
	// keys they own (KeyScope); everything else is refused 403.
	RoleMember Role = "member"
)

// Principal is who makes an admin request: the admin key, or a person
// signed in to the UI. The admin API puts it in the request's context
// (PrincipalFrom) before any endpoint runs.
type Principal struct {
	Role Role `json:"role"`
	// Via says how the caller proved who it is: "admin key" (the key
	// itself on the request), "ui session" (the UI signed in with the
	// admin key), "first-run link", or "sso".
	Via string `json:"via"`
	// Subject and Email are the identity provider's sub and email claims
	// ("" for the admin key).
	Subject string `json:"sub,omitempty"`
	Email   string `json:"email,omitempty"`
	// Team is the team the person's group maps to (LLMBRIDGE_OIDC_TEAMS);
	// "" for none.
	Team string `json:"team,omitempty"`
}

// Actor names p in the audit log: "alice@example.com (sso)", or how
// the admin key was used ("admin key", "ui session").
func (p Principal) Actor() string {
	if p.Via == "sso" {
		who := p.Email
		if who == "" {
			who = p.Subject
		}
		return who + " (sso)"
	}
	return p.Via
}

// Owner is the owner name of the virtual keys p makes as a member: the
// email, else the subject.
func (p Principal) Owner() string {
	if p.Email != "" {
		return strings.ToLower(p.Email) // owners match exactly: one spelling per person
	}
	return p.Subject
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal the admin API's guard put in ctx;
// ok is false outside it.
func PrincipalFrom(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// permit reports why p may not make r ("" when it may). It is the one
// place roles are enforced for the admin API and the configuration
// endpoints behind Guard.
func permit(p Principal, r *http.Request) string {
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions
	switch p.Role {
	case RoleAdmin:
		return ""
	case RoleViewer:
		if safe {
			return ""
		}
		return "the viewer role may read but not change anything"
	case RoleMember:
		path := strings.TrimSuffix(r.URL.Path, "/")
		id, one := strings.CutPrefix(path, "/admin/api/keys/")
		switch {
		case path == "/admin/api/keys" && (safe || r.Method == http.MethodPost):
			return ""
		case one && !strings.Contains(id, "/") && (safe || r.Method == http.MethodPatch || r.Method == http.MethodDelete):
			return ""
		}
		return "the member role may only manage its own virtual keys (/admin/api/keys)"
	}
	return "no role"
}

// forbidden answers a request p's role does not allow, 403 in the
// OpenAI error format.
func forbidden(w http.ResponseWriter, why string) {
	adminError(w, http.StatusForbidden, "permission_error", "forbidden", "%s", why)
}

// KeyScope is what a member's key requests are limited to: the keys
// they own. The zero KeyScope (admins, viewers) limits nothing.
type KeyScope struct {
	// Owner is the owner every key in scope has; "" limits nothing.
	Owner string
	// Team is the member's team (from the group mapping), for new keys.
	Team string
}

// scopeOf is the key scope of r's principal.
func scopeOf(r *http.Request) KeyScope {
	p, ok := PrincipalFrom(r.Context())
	if !ok || p.Role != RoleMember {
		return KeyScope{}
	}
	return KeyScope{Owner: p.Owner(), Team: p.Team}
}

// Limited reports whether s limits anything.
func (s KeyScope) Limited() bool { return s.Owner != "" }

// Allows reports whether k is in scope: the member owns it (whatever
// team it is in now, so that a member who changed teams can still revoke
// the keys of the old one).
func (s KeyScope) Allows(k *keys.Key) bool {
	return !s.Limited() || k != nil && strings.EqualFold(k.Owner, s.Owner)
}

// Apply makes a create or update request stay in scope: the owner is
// the member (another owner is refused; "" means the member), and the
// team theirs. It returns why the request is refused ("" when it is
// not).
func (s KeyScope) Apply(p *keys.Params) string {
	if !s.Limited() {
		return ""
	}
	if p.Owner != nil && *p.Owner != "" && *p.Owner != s.Owner {
		return "a member may only own keys themselves: owner must be " + s.Owner
	}
	owner := s.Owner
	p.Owner = &owner
	// Every member's key is in the member's team, whose limits and
	// budgets then hold on it: a member cannot make a key that spends
	// without a cap the admins set.
	switch {
	case s.Team == "":
		return "a member needs a team to create or change keys (their group maps to none: LLMBRIDGE_OIDC_TEAMS)"
	case p.Team != nil && *p.Team != "" && !strings.EqualFold(*p.Team, s.Team):
		return "a member's keys belong to their team: team must be " + s.Team
	}
	team := s.Team
	p.Team = &team
	if p.MCPServers != nil && len(*p.MCPServers) > 0 {
		return "only an admin grants a key MCP servers"
	}
	return ""
}
