package sso

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// maxClaimLen bounds an email, subject or group kept in a session.
const maxClaimLen = 256

// identity reads the identity from a token's claims (claims: what
// IDToken.Claims or UserInfo.Claims is).
func (c *Client) identity(claims func(any) error) (Identity, error) {
	var m map[string]json.RawMessage
	if err := claims(&m); err != nil {
		return Identity{}, fmt.Errorf("the claims do not read: %w", err)
	}
	var id Identity
	_ = json.Unmarshal(m["sub"], &id.Subject)
	_ = json.Unmarshal(m["email"], &id.Email)
	if v, ok := m["email_verified"]; ok {
		var b bool
		var s string
		switch {
		case json.Unmarshal(v, &b) == nil:
		case json.Unmarshal(v, &s) == nil: // some providers send "true"
			b = s == "true"
		}
		id.EmailVerified = &b
	}
	if v, ok := m[c.cfg.GroupsClaim]; ok {
		var one string
		if json.Unmarshal(v, &id.Groups) != nil && json.Unmarshal(v, &one) == nil {
			id.Groups = []string{one}
		}
		if id.Groups == nil {
			id.Groups = []string{}
		}
	}
	if len(id.Subject) > maxClaimLen || len(id.Email) > maxClaimLen || len(id.Groups) > 1000 {
		return Identity{}, errors.New("the identity's claims are too long")
	}
	for _, g := range id.Groups {
		if len(g) > maxClaimLen {
			return Identity{}, errors.New("a group name is too long")
		}
	}
	return id, nil
}

// fromUserInfo completes id from the userinfo endpoint, which must name
// the same subject.
func (c *Client) fromUserInfo(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, id Identity) (Identity, error) {
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return id, nil // the ID token's claims stand alone
	}
	more, err := c.identity(ui.Claims)
	if err != nil {
		return id, err
	}
	if more.Subject != id.Subject {
		return id, errors.New("the userinfo endpoint named another subject than the ID token")
	}
	if id.Email == "" {
		id.Email, id.EmailVerified = more.Email, more.EmailVerified
	}
	if id.Groups == nil {
		id.Groups = more.Groups
	}
	return id, nil
}
