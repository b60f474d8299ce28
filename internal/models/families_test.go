package models

import (
	"slices"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"claude-*", "claude-opus-5-5", true},
		{"claude-*", "claude-", true},
		{"claude-*", "claud", false},
		{"o1*", "o1", true},
		{"o1*", "o1-mini", true},
		{"o1*", "xo1", false},
		{"*", "", true},
		{"gpt-*-mini", "gpt-5.5-mini", true},
		{"gpt-*-mini", "gpt-5.5-mini-x", false},
		{"*/*", "Qwen/Qwen3", true},
		// A client's glob characters are literal: they never widen a pattern.
		{"gpt-4o", "gpt-*", false},
		{"gpt-*", "gpt-*", true},
		{"claude-*", "*", false},
		{"claude-?", "claude-x", false},
		{"a*a*a*a*a*b", strings.Repeat("a", 200), false},
	} {
		if got := Match(c.pattern, c.name); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func TestCheckPattern(t *testing.T) {
	for _, ok := range []string{"claude-*", "*", "gpt-*-mini", "meta-llama/*", "anthropic.claude-*:0", "claude-*@*"} {
		if err := CheckPattern(ok); err != nil {
			t.Errorf("CheckPattern(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "gpt ?", "gpt-?", "gpt-[45]", `gpt\*`, "claude-*\n", "a\x00", strings.Repeat("x", MaxNameLen+1)} {
		if err := CheckPattern(bad); err == nil {
			t.Errorf("CheckPattern(%q) = nil, want an error", bad)
		}
	}
}

// TestFamiliesMatch pins the precedence among families: the most
// specific pattern wins; an equal best is a tie naming every candidate in
// provider order; no match, or a name too long to be a model, is none.
func TestFamiliesMatch(t *testing.T) {
	f, errs := NewFamilies([]string{"openai", "anthropic", "vllm", "catchall", "twin", "prefixonly"}, [][]string{
		OpenAIPatterns(),
		AnthropicPatterns(),
		{"gpt-oss-*", "llama-*"},
		{"*"},
		{"llama-*"},
		nil,
	})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	for _, c := range []struct {
		name string
		want []int
	}{
		{"gpt-5.5-mini", []int{0}},
		{"claude-opus-5-5", []int{1}},
		{"gpt-oss-120b", []int{2}},     // "gpt-oss-*" beats OpenAI's "gpt-*"
		{"mistral-large", []int{3}},    // only the catch-all
		{"llama-4-scout", []int{2, 4}}, // a tie: both, in order
		{"claude-*", []int{1}},         // literal "*" in the name
		{strings.Repeat("claude-", 100), nil},
	} {
		if got := f.Match(c.name); !slices.Equal(got, c.want) {
			t.Errorf("Match(%q) = %v, want %v", c.name, got, c.want)
		}
	}
	var zero Families
	if got := zero.Match("gpt-4o"); got != nil {
		t.Errorf("zero Families matched %v", got)
	}
}

func TestNewFamiliesReportsBadPatterns(t *testing.T) {
	f, errs := NewFamilies([]string{"a", "b"}, [][]string{{"ok-*", "bad?"}, {""}})
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), "provider a") || !strings.Contains(errs[1].Error(), "provider b") {
		t.Fatalf("errs = %v", errs)
	}
	if got := f.Patterns(0); !slices.Equal(got, []string{"ok-*"}) {
		t.Errorf("kept %v", got)
	}
}

func FuzzFamiliesMatch(f *testing.F) {
	f.Add("claude-*", "claude-opus-5-5")
	f.Add("*a*b*", "aXbYb")
	f.Add("gpt-*", "gpt-*")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		fam, errs := NewFamilies([]string{"p"}, [][]string{{pattern}})
		got := fam.Match(name)
		if len(errs) > 0 {
			if got != nil {
				t.Fatalf("a refused pattern matched: %v", got)
			}
			return
		}
		if want := len(name) <= MaxNameLen && Match(pattern, name); want != (len(got) == 1) {
			t.Fatalf("Match(%q, %q) disagrees with Families: %v", pattern, name, got)
		}
		if !strings.Contains(pattern, "*") && Match(pattern, name) != (pattern == name) {
			t.Fatalf("a literal pattern %q matched %q", pattern, name)
		}
	})
}
