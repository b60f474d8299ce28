package testupstream

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"
)

// sign makes an RS256 JWT over claims with key.
func sign(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	c, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// The fake refuses what Google refuses: another key's signature, another
// issuer, audience or scope, an expired or too long-lived assertion.
func TestGoogleTokensVerify(t *testing.T) {
	g := NewGoogleTokens(t)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now()
	good := func() map[string]any {
		return map[string]any{"iss": g.Email, "aud": g.URL + "/token", "scope": "https://www.googleapis.com/auth/cloud-platform", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	if msg := g.verify(sign(t, g.Key, g.KeyID, good()), now); msg != "" {
		t.Fatalf("a good assertion: %s", msg)
	}
	if msg := g.verify(sign(t, other, g.KeyID, good()), now); msg != "Invalid JWT Signature." {
		t.Errorf("another key: %q", msg)
	}
	for field, v := range map[string]any{"iss": "x@y", "aud": "https://oauth2.googleapis.com/token", "scope": "email", "exp": now.Add(-time.Minute).Unix(), "iat": now.Add(-2 * time.Hour).Unix()} {
		c := good()
		c[field] = v
		if msg := g.verify(sign(t, g.Key, g.KeyID, c), now); msg == "" {
			t.Errorf("%s=%v accepted", field, v)
		}
	}
}

func FuzzGoogleTokensVerify(f *testing.F) {
	g := NewGoogleTokens(f)
	f.Add("a.b.c")
	f.Add(sign(f, g.Key, g.KeyID, map[string]any{"iss": g.Email}))
	f.Fuzz(func(t *testing.T, jwt string) {
		if g.verify(jwt, time.Now()) == "" {
			t.Fatalf("accepted %q", jwt)
		}
	})
}
