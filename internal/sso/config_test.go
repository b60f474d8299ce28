package sso

import (
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/admin"
)

func TestConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{"off", Config{}, nil},
		{"on", Config{Issuer: "https://accounts.google.com", ClientID: "id"}, nil},
		{"loopback http", Config{Issuer: "http://127.0.0.1:5556/dex", ClientID: "id"}, nil},
		{"settings without an issuer", Config{ClientID: "id", Admins: []string{"a@x"}}, []string{"LLMBRIDGE_OIDC_ISSUER is not"}},
		{"plain http", Config{Issuer: "http://idp.example", ClientID: "id"}, []string{"want an https:// URL"}},
		{"every problem at once", Config{Issuer: "ftp://x", Teams: "a=b,c", PublicURL: "https://x.example/?q=1"},
			[]string{"LLMBRIDGE_OIDC_ISSUER", "LLMBRIDGE_OIDC_CLIENT_ID", `"c" is not group=team`, "LLMBRIDGE_PUBLIC_URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Check()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v, want it to say %q", err, w)
				}
			}
		})
	}
	c := Config{Issuer: "https://x.example", ClientID: "id", Scopes: "email, profile groups openid"}
	if err := c.Check(); err != nil || strings.Join(c.scopes(), " ") != "openid email profile groups" || c.Name != "SSO" || c.GroupsClaim != "groups" {
		t.Errorf("scopes %v name %q claim %q err %v", c.scopes(), c.Name, c.GroupsClaim, err)
	}
}

func TestPrincipalMapping(t *testing.T) {
	yes, no := true, false
	c := Config{Issuer: "https://x.example", ClientID: "id", Admins: []string{"Boss@Example.com", "admins"}, Viewers: []string{"auditors", "eve@example.com"},
		AllowedGroups: []string{"staff"}, Teams: "ml=ML team, web=Web"}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   Identity
		want admin.Principal
		err  string
	}{
		{Identity{Subject: "1", Email: "boss@example.com", EmailVerified: &yes}, admin.Principal{Role: admin.RoleAdmin, Via: "sso", Subject: "1", Email: "boss@example.com"}, ""},
		{Identity{Subject: "2", Groups: []string{"admins"}}, admin.Principal{Role: admin.RoleAdmin, Via: "sso", Subject: "2"}, ""},
		{Identity{Subject: "3", Email: "eve@example.com"}, admin.Principal{Role: admin.RoleViewer, Via: "sso", Subject: "3", Email: "eve@example.com"}, ""},
		{Identity{Subject: "4", Groups: []string{"staff", "web", "ml"}}, admin.Principal{Role: admin.RoleMember, Via: "sso", Subject: "4", Team: "ML team"}, ""},
		{Identity{Subject: "5", Groups: []string{"staff"}}, admin.Principal{Role: admin.RoleMember, Via: "sso", Subject: "5"}, ""},
		{Identity{Subject: "6", Groups: []string{"ml"}}, admin.Principal{}, "not in a group allowed"},
		{Identity{Subject: "7", Email: "boss@example.com", EmailVerified: &no}, admin.Principal{}, "not verified"},
		{Identity{Email: "boss@example.com"}, admin.Principal{}, "no subject"},
		// Not an admin: "boſs" (long s) and a Kelvin-sign name are other
		// addresses, although strings.EqualFold would match them.
		{Identity{Subject: "8", Email: "bo\u017fs@example.com", Groups: []string{"staff"}}, admin.Principal{Role: admin.RoleMember, Via: "sso", Subject: "8", Email: "bo\u017fs@example.com"}, ""},
		{Identity{Subject: "9", Email: "BOSS@EXAMPLE.COM"}, admin.Principal{Role: admin.RoleAdmin, Via: "sso", Subject: "9", Email: "BOSS@EXAMPLE.COM"}, ""},
	} {
		p, err := c.Principal(tc.id)
		if p != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: got %+v %v, want %+v %q", tc.id, p, err, tc.want, tc.err)
		}
	}
}

// TestFingerprint: the sessions' seal changes with who may sign in as
// what, and is nil with single sign-on off.
func TestFingerprint(t *testing.T) {
	a := Config{Issuer: "https://x.example", ClientID: "id", Admins: []string{"a@example.com"}}
	b := a
	b.Admins = []string{"b@example.com"}
	if (&Config{}).Fingerprint() != nil || string(a.Fingerprint()) == string(b.Fingerprint()) || string(a.Fingerprint()) != string((&Config{Issuer: "https://x.example", ClientID: "id", Admins: []string{"a@example.com"}}).Fingerprint()) {
		t.Error("the fingerprint does not follow the settings")
	}
}

func TestBox(t *testing.T) {
	a, b := NewBox([]byte("secret"), "p"), NewBox([]byte("secret"), "p")
	s, err := a.Seal(map[string]int{"x": 1}, "aad")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]int
	if err := b.Open(s, "aad", &v); err != nil || v["x"] != 1 {
		t.Fatalf("a box of the same secret and purpose: %v %v", v, err)
	}
	flip := []byte(s)
	flip[len(flip)-5] ^= 1
	for name, open := range map[string]func() error{
		"another aad":     func() error { return b.Open(s, "other", &v) },
		"another purpose": func() error { return NewBox([]byte("secret"), "q").Open(s, "aad", &v) },
		"another secret":  func() error { return NewBox([]byte("secret2"), "p").Open(s, "aad", &v) },
		"tampered":        func() error { return b.Open(string(flip), "aad", &v) },
		"too long":        func() error { return b.Open(strings.Repeat("A", MaxSealed+1), "aad", &v) },
		"short":           func() error { return b.Open("AAAA", "aad", &v) },
		"not base64":      func() error { return b.Open("!!", "aad", &v) },
	} {
		if err := open(); err != ErrSealed {
			t.Errorf("%s: %v", name, err)
		}
	}
}
