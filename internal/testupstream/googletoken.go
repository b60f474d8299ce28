package testupstream

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// GoogleTokens is Google's OAuth token endpoint for service accounts
// (RFC 7523 JWT bearer grant): POST /token with
// grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and an RS256
// assertion. It verifies the assertion as Google does: the signature
// against the service account's public key (a JWT signed with another key
// is 400 invalid_grant "Invalid JWT Signature."), the key id, the issuer
// (the account's email), the audience (this endpoint), the scope and the
// times (issued now, at most an hour).
type GoogleTokens struct {
	*httptest.Server
	Email, KeyID string
	Key          *rsa.PrivateKey // the account's key pair; the fake knows only its public half
	issuer
}

// NewGoogleTokens starts a token endpoint for one service account with a
// new 2048-bit key pair; tokens live an hour. It closes with the test.
func NewGoogleTokens(t testing.TB) *GoogleTokens {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	g := &GoogleTokens{Email: "bridge@test-project.iam.gserviceaccount.com", KeyID: "0123456789abcdef0123456789abcdef01234567", Key: key,
		issuer: issuer{prefix: "ya29.c.fake-", expiresIn: 3599}}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.Close)
	return g
}

// ServiceAccountJSON is a service-account key file for the account whose
// private key is key (g.Key for the real one, another to test a forged
// signature), pointing at this endpoint.
func (g *GoogleTokens) ServiceAccountJSON(key *rsa.PrivateKey) []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	b, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": "test-project", "private_key_id": g.KeyID,
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "client_email": g.Email,
		"client_id": "104935467329481234567", "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": g.URL + "/token"})
	return b
}

func (g *GoogleTokens) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/token" || r.ParseForm() != nil {
		oauthError(w, 404, "not_found", "not found")
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthError(w, 400, "unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
		return
	}
	if msg := g.verify(r.PostForm.Get("assertion"), time.Now()); msg != "" {
		oauthError(w, 400, "invalid_grant", msg)
		return
	}
	g.issue(w, "")
}

// verify checks a JWT assertion; it returns Google's message for a bad
// one, "" for a good one.
func (g *GoogleTokens) verify(jwt string, now time.Time) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
	}
	var head struct{ Alg, Typ, Kid string }
	var claims struct {
		Iss, Scope, Aud string
		Iat, Exp        int64
	}
	if decodeSegment(parts[0], &head) != nil || decodeSegment(parts[1], &claims) != nil {
		return "Invalid JWT: could not decode."
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || head.Alg != "RS256" {
		return "Invalid JWT Signature."
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&g.Key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return "Invalid JWT Signature."
	}
	switch {
	case head.Kid != "" && head.Kid != g.KeyID:
		return "Invalid JWT Signature."
	case claims.Iss != g.Email:
		return "Invalid JWT: iss does not name a service account."
	case claims.Aud != g.URL+"/token":
		return "Invalid JWT: aud must be the token endpoint."
	case !slices.Contains(strings.Fields(claims.Scope), "https://www.googleapis.com/auth/cloud-platform"):
		return "Invalid OAuth scope or ID token audience provided."
	case claims.Iat > now.Unix()+60 || claims.Exp <= now.Unix() || claims.Exp-claims.Iat > 3600:
		return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
	}
	return ""
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
