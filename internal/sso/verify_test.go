package sso

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// fakeIdP is an identity provider whose token endpoint answers the ID
// token a test builds from the sign-in's nonce: for tokens no real
// provider would sign (expired, for another audience, tampered).
type fakeIdP struct {
	*httptest.Server
	key   *ecdsa.PrivateKey
	token func(nonce string) string // the id_token to answer
	// userinfo is the userinfo endpoint's claims; nil: the endpoint is
	// not advertised.
	userinfo map[string]any

	mu    sync.Mutex
	nonce string
	codes int
}

func newFakeIdP(t *testing.T) *fakeIdP {
	f := &fakeIdP{}
	f.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		d := map[string]any{"issuer": f.URL, "authorization_endpoint": f.URL + "/authorize",
			"token_endpoint": f.URL + "/token", "jwks_uri": f.URL + "/keys", "id_token_signing_alg_values_supported": []string{"ES256"}}
		if f.userinfo != nil {
			d["userinfo_endpoint"] = f.URL + "/userinfo"
		}
		_ = json.NewEncoder(w).Encode(d)
	})
	mux.HandleFunc("/userinfo", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-1" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(f.userinfo)
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
			http.Error(w, "PKCE S256 required", 400)
			return
		}
		f.mu.Lock()
		f.nonce = q.Get("nonce")
		f.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {"code-1"}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("code_verifier") == "" || r.PostFormValue("code") != "code-1" {
			http.Error(w, `{"error":"invalid_grant"}`, 400)
			return
		}
		f.mu.Lock()
		nonce := f.nonce
		f.codes++
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at-1", "token_type": "Bearer", "expires_in": 300, "id_token": f.token(nonce)})
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// sign signs claims with key as a compact JWS (ES256, kid k1).
func sign(t *testing.T, key *ecdsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// TestIDTokenChecks: the ID token must be signed by the issuer's key,
// for this client, unexpired, from this issuer, with this sign-in's
// nonce; an email the provider marks unverified is refused.
func TestIDTokenChecks(t *testing.T) {
	f := newFakeIdP(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg := Config{Issuer: f.URL, ClientID: "bridge", ClientSecret: "s3cret-client", Scopes: "openid email"}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	good := func(nonce string) map[string]any {
		now := time.Now()
		return map[string]any{"iss": f.URL, "sub": "u1", "aud": "bridge", "exp": now.Add(time.Minute).Unix(), "iat": now.Unix(),
			"nonce": nonce, "email": "a@example.com", "email_verified": true}
	}
	with := func(k string, v any) func(string) string {
		return func(nonce string) string {
			c := good(nonce)
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
			return sign(t, f.key, c)
		}
	}
	for _, tc := range []struct {
		name  string
		token func(nonce string) string
		want  string // "" for a sign-in
	}{
		{"good", with("x", "y"), ""},
		{"expired", with("exp", time.Now().Add(-time.Minute).Unix()), "expired"},
		{"wrong audience", with("aud", "another-client"), "audience"},
		{"wrong issuer", with("iss", "https://evil.example"), "different provider"},
		{"wrong nonce", with("nonce", "not-the-nonce"), "nonce"},
		{"no nonce", with("nonce", nil), "nonce"},
		{"unverified email", with("email_verified", false), "not verified"},
		{"unverified email as a string", with("email_verified", "false"), "not verified"},
		{"another key", func(n string) string { return sign(t, other, good(n)) }, "signature"},
		{"tampered", func(n string) string {
			parts := strings.Split(sign(t, f.key, good(n)), ".")
			c := good(n)
			c["email"] = "admin@example.com"
			b, _ := json.Marshal(c)
			parts[1] = base64.RawURLEncoding.EncodeToString(b)
			return strings.Join(parts, ".")
		}, "signature"},
		{"alg none", func(n string) string {
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"k1"}`))
			b, _ := json.Marshal(good(n))
			return h + "." + base64.RawURLEncoding.EncodeToString(b) + "."
		}, "not valid"},
		{"no id_token", func(string) string { return "" }, "no id_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.token = tc.token
			var logs strings.Builder
			c := New(cfg, Options{Secret: []byte("k"), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			status, body := runFlow(t, c)
			if tc.want == "" {
				if status != 200 || !strings.Contains(body, `"email":"a@example.com"`) {
					t.Fatalf("%d %s", status, body)
				}
			} else if status == 200 || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %q, want a refusal saying %q", status, body, tc.want)
			}
			if strings.Contains(logs.String(), "s3cret-client") || strings.Contains(logs.String(), "code-1") || strings.Contains(logs.String(), "eyJ") {
				t.Errorf("the log holds a secret, code or token:\n%s", logs.String())
			}
		})
	}
}

// runFlow signs in through c against its provider (which needs no
// login) and returns the callback's status and body.
func runFlow(t *testing.T, c *Client) (int, string) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		if err := c.Start(w, r, "/admin/"); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
	})
	mux.HandleFunc(CallbackPath, func(w http.ResponseWriter, r *http.Request) {
		p, _, err := c.Finish(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		_ = json.NewEncoder(w).Encode(p)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := browser(false).Get(srv.URL + "/start")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestUserInfoCompletesTheIDToken: an ID token without the email or the
// groups (Okta's org server, Entra with many groups) is completed from
// the userinfo endpoint, which must name the same subject.
func TestUserInfoCompletesTheIDToken(t *testing.T) {
	f := newFakeIdP(t)
	cfg := Config{Issuer: f.URL, ClientID: "bridge", Viewers: []string{"auditors"}, Teams: "ml=ml-team"}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	f.token = func(nonce string) string {
		now := time.Now()
		return sign(t, f.key, map[string]any{"iss": f.URL, "sub": "u1", "aud": "bridge", "exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "nonce": nonce})
	}
	f.userinfo = map[string]any{"sub": "u1", "email": "a@example.com", "email_verified": true, "groups": []string{"auditors"}}
	status, body := runFlow(t, New(cfg, Options{Secret: []byte("k"), Logger: slog.New(slog.DiscardHandler)}))
	if status != 200 || !strings.Contains(body, `"role":"viewer"`) || !strings.Contains(body, `"email":"a@example.com"`) {
		t.Fatalf("%d %s", status, body)
	}
	f.userinfo = map[string]any{"sub": "someone-else", "email": "boss@example.com", "groups": []string{"auditors"}}
	if status, body := runFlow(t, New(cfg, Options{Secret: []byte("k"), Logger: slog.New(slog.DiscardHandler)})); status == 200 || !strings.Contains(body, "another subject") {
		t.Fatalf("another subject at userinfo: %d %s", status, body)
	}
}

// TestPublicURLAndDiscovery: with LLMBRIDGE_PUBLIC_URL the redirect URI
// is its callback and the state cookie is Secure; a provider that cannot
// be reached makes Start fail (the UI says so) without a cookie.
func TestPublicURLAndDiscovery(t *testing.T) {
	f := newFakeIdP(t)
	cfg := Config{Issuer: f.URL, ClientID: "bridge", PublicURL: "https://llm.example.com/"}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	c := New(cfg, Options{Secret: []byte("k"), Logger: slog.New(slog.DiscardHandler)})
	rec := httptest.NewRecorder()
	if err := c.Start(rec, httptest.NewRequest("GET", "http://10.0.0.7:1219/admin/oidc/login", nil), "/admin/"); err != nil {
		t.Fatal(err)
	}
	loc, _ := url.Parse(rec.Header().Get("Location"))
	q := loc.Query()
	if q.Get("redirect_uri") != "https://llm.example.com/admin/oidc/callback" || q.Get("code_challenge_method") != "S256" ||
		q.Get("response_type") != "code" || q.Get("scope") != "openid email profile" || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Errorf("authorize URL %s", loc)
	}
	ck := rec.Result().Cookies()
	if len(ck) != 1 || !ck[0].Secure || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteLaxMode || ck[0].MaxAge != 600 || ck[0].Path != "/admin/oidc/" {
		t.Errorf("state cookie %+v", ck)
	}
	f.Close()
	down := Config{Issuer: f.URL, ClientID: "bridge"}
	_ = down.Check()
	rec = httptest.NewRecorder()
	if err := New(down, Options{Logger: slog.New(slog.DiscardHandler)}).Start(rec, httptest.NewRequest("GET", "/admin/oidc/login", nil), "/admin/"); err == nil || len(rec.Result().Cookies()) != 0 {
		t.Errorf("an unreachable provider: %v %v", err, rec.Result().Cookies())
	}
}
