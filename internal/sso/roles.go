package sso

import (
	"slices"

	"github.com/llmbridge/llmbridge/internal/admin"
)

// Identity is what a verified sign-in says about a person: the ID
// token's claims, completed from the userinfo endpoint where the token
// lacks them.
type Identity struct {
	Subject string
	Email   string
	// EmailVerified is the email_verified claim; nil when the provider
	// does not send it (Microsoft Entra).
	EmailVerified *bool
	Groups        []string
}

// Refusal is a sign-in refused for who the person is (not for a broken
// flow): its message is shown on the sign-in page.
type Refusal struct{ Message string }

// Error implements error.
func (e *Refusal) Error() string { return e.Message }

// Refused marks a refusal for who the person is (the UI answers 403).
func (e *Refusal) Refused() bool { return true }

// Principal maps id to the admin UI's principal: an admin or viewer when
// LLMBRIDGE_OIDC_ADMINS or LLMBRIDGE_OIDC_VIEWERS names their email or
// one of their groups, else a member of the team their first mapped
// group names — or a *Refusal when LLMBRIDGE_OIDC_ALLOWED_GROUPS is set
// and they are in none of those groups, or the provider says the email
// is not verified.
func (c *Config) Principal(id Identity) (admin.Principal, error) {
	if id.Subject == "" {
		return admin.Principal{}, &Refusal{"the identity provider named no subject (sub) for this sign-in"}
	}
	if id.Email != "" && id.EmailVerified != nil && !*id.EmailVerified {
		return admin.Principal{}, &Refusal{"your email address is not verified at the identity provider: verify it there and sign in again"}
	}
	p := admin.Principal{Via: "sso", Subject: id.Subject, Email: id.Email, Team: c.team(id.Groups)}
	switch {
	case c.names(c.Admins, id):
		p.Role = admin.RoleAdmin
	case c.names(c.Viewers, id):
		p.Role = admin.RoleViewer
	case len(c.AllowedGroups) > 0 && !slices.ContainsFunc(id.Groups, func(g string) bool { return slices.Contains(c.AllowedGroups, g) }):
		return admin.Principal{}, &Refusal{"you are not in a group allowed to use this bridge (LLMBRIDGE_OIDC_ALLOWED_GROUPS): ask its admins"}
	default:
		p.Role = admin.RoleMember
	}
	return p, nil
}

// names reports whether list names id's email (in any ASCII case) or a
// group.
func (c *Config) names(list []string, id Identity) bool {
	for _, e := range list {
		if id.Email != "" && sameEmail(e, id.Email) || slices.Contains(id.Groups, e) {
			return true
		}
	}
	return false
}

// sameEmail compares two emails folding ASCII letters only:
// strings.EqualFold would also take the Kelvin sign (U+212A) for "k" and
// the long s (U+017F) for "s", so "\u212Aate@example.com" would be an
// admin named kate@example.com.
func sameEmail(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// team is the team of the first pair of LLMBRIDGE_OIDC_TEAMS whose
// group is among groups ("" for none).
func (c *Config) team(groups []string) string {
	for _, t := range c.teams {
		if slices.Contains(groups, t.group) {
			return t.team
		}
	}
	return ""
}
