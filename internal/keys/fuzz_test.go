package keys

import (
	"errors"
	"testing"
)

// FuzzParseParams: any body is either valid params that pass Validate or
// a FieldError naming a field; never a panic.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{`{"name":"a","models":["openai/*"],"rpm":60,"daily_budget_usd":5}`, `{"rpm":-1}`, `{"x":1}`, `[]`, `{"expires_at":"2030-01-01T00:00:00Z"}`,
		`{"models":null}`, `{"name":"\u0000"}`, `{"tpm":1e300}`, `{"daily_budget_usd":1e309}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseParams(body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" || fe.Message == "" {
				t.Fatalf("%q: %v is not a FieldError", body, err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("%q parsed but does not validate: %v", body, err)
		}
		var k Key
		p.apply(&k)
	})
}

// FuzzParseTeamParams: any body is either a valid team that passes
// Validate or a FieldError naming a member; never a panic.
func FuzzParseTeamParams(f *testing.F) {
	for _, s := range []string{`{"name":"research","models":["openai/*"],"rpm":60,"monthly_budget_usd":100}`, `{"Name":"a"}`,
		`{"name":"a","name":"b"}`, `{"name":"tm_0123456789abcdef"}`, `{"name":"a'--"}`, `[]`, `{"name":"a"} 1`, `{"name":"a","rpm":1e300}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseTeamParams(body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" || fe.Message == "" {
				t.Fatalf("%q: %v is not a FieldError", body, err)
			}
			return
		}
		if err := p.Validate(); err != nil || ValidTeamName(p.Name) != nil {
			t.Fatalf("%q parsed but does not validate: %v", body, err)
		}
	})
}

// FuzzMatch: "*" alone matches everything; a pattern without "*" matches
// only itself.
func FuzzMatch(f *testing.F) {
	f.Add("openai/*", "openai/gpt-4o")
	f.Add("a*b*c", "abc")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		got := Match(pattern, name)
		if pattern == "*" && !got {
			t.Fatal("* did not match")
		}
		star := false
		for i := 0; i < len(pattern); i++ {
			star = star || pattern[i] == '*'
		}
		if !star && got != (pattern == name) {
			t.Fatalf("Match(%q, %q) = %v", pattern, name, got)
		}
	})
}
