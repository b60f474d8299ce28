package secret

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"
)

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// TestCredentialRules pins which header each reader takes, case by case:
// Credential is the model API's rule, StrictCredential the admin
// endpoints', Bearer the metrics guard's.
func TestCredentialRules(t *testing.T) {
	for _, tc := range []struct {
		name               string
		h                  http.Header
		credential, strict string
		bearerOnly         string
	}{
		{"nil header", nil, "", "", ""},
		{"none", header(), "", "", ""},
		{"bearer", header("Authorization", "Bearer k1"), "k1", "k1", "k1"},
		{"bearer any case", header("Authorization", "bEaReR k1"), "k1", "k1", "k1"},
		{"bearer trimmed", header("Authorization", "Bearer   k1 \t"), "k1", "k1", "k1"},
		{"bearer wins over x-api-key", header("Authorization", "Bearer k1", "X-Api-Key", "k2"), "k1", "k1", "k1"},
		{"bearer of spaces", header("Authorization", "Bearer    ", "X-Api-Key", "k2"), "", "", ""},
		{"bare bearer falls back", header("Authorization", "Bearer", "X-Api-Key", "k2"), "k2", "", ""},
		{"no space after scheme", header("Authorization", "Bearerk1"), "", "", ""},
		{"x-api-key", header("X-Api-Key", "k2"), "k2", "k2", ""},
		{"x-api-key any case", header("x-api-key", "k2"), "k2", "k2", ""},
		{"x-api-key trimmed", header("X-Api-Key", " k2 "), "k2", "k2", ""},
		{"basic falls back", header("Authorization", "Basic czM=", "X-Api-Key", "k2"), "k2", "", ""},
		{"basic alone", header("Authorization", "Basic k1"), "", "", ""},
		{"first of several", header("Authorization", "Bearer k1", "Authorization", "Bearer k3"), "k1", "k1", "k1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Credential(tc.h); got != tc.credential {
				t.Errorf("Credential = %q, want %q", got, tc.credential)
			}
			if got := StrictCredential(tc.h); got != tc.strict {
				t.Errorf("StrictCredential = %q, want %q", got, tc.strict)
			}
			if got := Bearer(tc.h); got != tc.bearerOnly {
				t.Errorf("Bearer = %q, want %q", got, tc.bearerOnly)
			}
		})
	}
}

func TestSetIndex(t *testing.T) {
	s := Set{Sum("alpha"), Sum("beta"), Sum("alpha"), Sum("")}
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"beta", 1},
		{"alpha", 2}, // the last of equal digests
		{"gamma", -1},
		{"", -1}, // even though Sum("") is in the set
		{"Beta", -1},
		{"beta ", -1},
	} {
		if got := s.Index(tc.key); got != tc.want {
			t.Errorf("Index(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
	if got := Set(nil).Index("alpha"); got != -1 {
		t.Errorf("nil Set: Index = %d", got)
	}
	// A slice of sha256.Sum256 results is a Set as it is.
	sums := [][sha256.Size]byte{sha256.Sum256([]byte("x")), sha256.Sum256([]byte("y"))}
	if got := Set(sums).Index("y"); got != 1 {
		t.Errorf("converted Set: Index = %d", got)
	}
}

func TestDigestMatches(t *testing.T) {
	d := Sum("s3cret-admin-key")
	for key, want := range map[string]bool{"s3cret-admin-key": true, "s3cret-admin-ke": false, "s3cret-admin-key2": false, "": false} {
		if got := d.Matches(key); got != want {
			t.Errorf("Matches(%q) = %v, want %v", key, got, want)
		}
	}
	if Sum("").Matches("") {
		t.Error("the empty key matched")
	}
}

// reference is the rule the model API had before this package, kept as
// the oracle for the fuzz target.
func reference(h http.Header) string {
	if a := h.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return strings.TrimSpace(h.Get("X-Api-Key"))
}

func FuzzCredential(f *testing.F) {
	f.Add("Bearer k1", "k2")
	f.Add("Basic k1", "k2")
	f.Add("bearer ", " ")
	f.Add("", "k2")
	f.Add("BEARER \u00a0k", "")
	f.Fuzz(func(t *testing.T, auth, xkey string) {
		h := http.Header{}
		if auth != "" {
			h.Set("Authorization", auth)
		}
		if xkey != "" {
			h.Set("X-Api-Key", xkey)
		}
		c, s, b := Credential(h), StrictCredential(h), Bearer(h)
		if want := reference(h); c != want {
			t.Fatalf("Credential = %q, want %q", c, want)
		}
		if s != "" && s != c {
			t.Fatalf("StrictCredential %q is not Credential %q", s, c)
		}
		if b != "" && (b != c || b != s) {
			t.Fatalf("Bearer %q differs from Credential %q / StrictCredential %q", b, c, s)
		}
		if auth == "" && s != c {
			t.Fatalf("without Authorization StrictCredential %q differs from Credential %q", s, c)
		}
		set := Set{Sum(auth), Sum(xkey), Sum(c)}
		got := set.Index(c)
		want := -1
		for i, k := range []string{auth, xkey, c} {
			if c != "" && k == c {
				want = i
			}
		}
		if got != want {
			t.Fatalf("Index(%q) = %d, want %d", c, got, want)
		}
		if Sum(xkey).Matches(xkey) != (xkey != "") {
			t.Fatalf("Matches(%q) wrong", xkey)
		}
	})
}

func BenchmarkSetIndex(b *testing.B) {
	s := make(Set, 16)
	for i := range s {
		s[i] = Sum(strings.Repeat("k", i+1))
	}
	for b.Loop() {
		s.Index("kkkkkkkk")
	}
}
