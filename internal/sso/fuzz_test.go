package sso

import (
	"encoding/json"
	"testing"
)

// FuzzParseTeams: any LLMBRIDGE_OIDC_TEAMS value parses or is refused,
// and every pair parsed has a group and a team.
func FuzzParseTeams(f *testing.F) {
	for _, s := range []string{"", "a=b", "a=b,c=d", " a = b ,", "a=", "=b", "a==b", "a=b=c,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pairs, err := parseTeams(s)
		for _, p := range pairs {
			if err == nil && (p.group == "" || p.team == "") {
				t.Fatalf("%q: empty pair %+v", s, p)
			}
		}
	})
}

// FuzzBoxOpen: no input opens (or panics) but what a box of the same
// key sealed. (Fuzzing workers seal good again with a nonce of their
// own, so what opens is judged by its content.)
func FuzzBoxOpen(f *testing.F) {
	b := NewBox([]byte("fuzz"), "p")
	good, _ := b.Seal(map[string]string{"a": "b"}, "aad")
	for _, s := range []string{"", good, good[:len(good)-1], "AAAA", "!!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v map[string]string
		if b.Open(s, "aad", &v) == nil && (len(v) != 1 || v["a"] != "b") {
			t.Fatalf("%q opened to %v", s, v)
		}
	})
}

// FuzzIdentity: any claims object reads into an identity or an error,
// never a panic, and nothing over the limits is kept.
func FuzzIdentity(f *testing.F) {
	for _, s := range []string{`{"sub":"a","email":"b","email_verified":"true","groups":["x"]}`, `{"groups":"one"}`,
		`{"groups":[1,2]}`, `{"email_verified":1}`, `null`, `[]`} {
		f.Add(s)
	}
	c := &Client{cfg: Config{GroupsClaim: "groups"}}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := c.identity(func(v any) error { return json.Unmarshal([]byte(s), v) })
		if err == nil && (len(id.Subject) > maxClaimLen || len(id.Email) > maxClaimLen) {
			t.Fatalf("kept %+v", id)
		}
	})
}
