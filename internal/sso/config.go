package sso

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// Config is the single sign-on configuration, read from the environment
// (caarlos0/env tags). SSO is off while Issuer is empty.
type Config struct {
	// Issuer is the identity provider's issuer URL; its discovery
	// document is Issuer/.well-known/openid-configuration.
	Issuer       string `env:"LLMBRIDGE_OIDC_ISSUER"`
	ClientID     string `env:"LLMBRIDGE_OIDC_CLIENT_ID"`
	ClientSecret string `env:"LLMBRIDGE_OIDC_CLIENT_SECRET"`
	// Name labels the sign-in button: "Sign in with <Name>".
	Name string `env:"LLMBRIDGE_OIDC_NAME" envDefault:"SSO"`
	// Scopes are asked for, separated by spaces or commas; "openid" is
	// always added. Dex and Keycloak need "groups" for the groups claim;
	// Google refuses it.
	Scopes string `env:"LLMBRIDGE_OIDC_SCOPES" envDefault:"openid email profile"`
	// GroupsClaim names the ID token (or userinfo) claim with the groups.
	GroupsClaim string `env:"LLMBRIDGE_OIDC_GROUPS_CLAIM" envDefault:"groups"`
	// Admins and Viewers are emails or groups; a person in neither is a
	// member.
	Admins  []string `env:"LLMBRIDGE_OIDC_ADMINS" envSeparator:","`
	Viewers []string `env:"LLMBRIDGE_OIDC_VIEWERS" envSeparator:","`
	// AllowedGroups, when set, refuse members in none of these groups.
	AllowedGroups []string `env:"LLMBRIDGE_OIDC_ALLOWED_GROUPS" envSeparator:","`
	// Teams maps groups to team names: "group=team,group2=team2". A member
	// is in the team of the first pair whose group they are in.
	Teams string `env:"LLMBRIDGE_OIDC_TEAMS"`
	// PublicURL is the bridge's URL as browsers reach it (scheme, host,
	// optional path prefix); the redirect URI is PublicURL +
	// CallbackPath. Unset: the URL the request came to.
	PublicURL string `env:"LLMBRIDGE_PUBLIC_URL"`

	teams []teamPair // Teams parsed by Check
}

type teamPair struct{ group, team string }

// CallbackPath is where the identity provider sends the browser back.
const CallbackPath = "/admin/oidc/callback"

// On reports whether single sign-on is configured.
func (c *Config) On() bool { return c.Issuer != "" }

// Fingerprint is a digest of the settings that decide who signs in and
// with which role (nil when single sign-on is off). The admin UI seals
// its sessions with it, so that a session's sealed role ends when these
// settings change — someone taken out of LLMBRIDGE_OIDC_ADMINS, or SSO
// turned off — rather than lasting its 12 hours.
func (c *Config) Fingerprint() []byte {
	if !c.On() {
		return nil
	}
	h := sha256.New()
	for _, v := range []string{c.Issuer, c.ClientID, c.Scopes, c.GroupsClaim, strings.Join(c.Admins, ","),
		strings.Join(c.Viewers, ","), strings.Join(c.AllowedGroups, ","), c.Teams} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// Check validates c, reporting every problem at once, and parses Teams.
// Settings of SSO without LLMBRIDGE_OIDC_ISSUER are refused: they would
// silently do nothing.
func (c *Config) Check() error {
	c.Admins, c.Viewers, c.AllowedGroups = trimmed(c.Admins), trimmed(c.Viewers), trimmed(c.AllowedGroups)
	var errs []error
	var err error
	if c.teams, err = parseTeams(c.Teams); err != nil {
		errs = append(errs, err)
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			errs = append(errs, fmt.Errorf("LLMBRIDGE_PUBLIC_URL %q: want the bridge's URL as browsers reach it, like https://llm.example.com", c.PublicURL))
		}
	}
	if !c.On() {
		if c.ClientID != "" || c.ClientSecret != "" || len(c.Admins)+len(c.Viewers)+len(c.AllowedGroups) > 0 || c.Teams != "" {
			errs = append(errs, errors.New("LLMBRIDGE_OIDC_* is set but LLMBRIDGE_OIDC_ISSUER is not: set the identity provider's issuer URL to turn single sign-on on"))
		}
		return errors.Join(errs...)
	}
	if u, err := url.Parse(c.Issuer); err != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && loopback(u.Hostname())) {
		errs = append(errs, fmt.Errorf("LLMBRIDGE_OIDC_ISSUER %q: want an https:// URL (http:// only on loopback)", c.Issuer))
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("LLMBRIDGE_OIDC_CLIENT_ID is required with LLMBRIDGE_OIDC_ISSUER"))
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = "groups"
	}
	if c.Name == "" {
		c.Name = "SSO"
	}
	if strings.TrimSpace(c.Scopes) == "" {
		c.Scopes = "openid email profile"
	}
	return errors.Join(errs...)
}

// scopes are the scopes asked for, "openid" first.
func (c *Config) scopes() []string {
	out := []string{"openid"}
	for _, s := range strings.FieldsFunc(c.Scopes, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func parseTeams(s string) ([]teamPair, error) {
	var out []teamPair
	for _, p := range strings.Split(s, ",") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		g, t, ok := strings.Cut(p, "=")
		g, t = strings.TrimSpace(g), strings.TrimSpace(t)
		if !ok || g == "" || t == "" {
			return nil, fmt.Errorf("LLMBRIDGE_OIDC_TEAMS: %q is not group=team (the form is group=team,group2=team2)", strings.TrimSpace(p))
		}
		out = append(out, teamPair{g, t})
	}
	return out, nil
}

func trimmed(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
