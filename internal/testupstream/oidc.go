package testupstream

import (
	"context"
	"crypto/sha256"
	"errors"
	"html/template"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// OPUser is a person who can sign in at an OP.
type OPUser struct {
	ID, Username, Password string
	Email                  string
	EmailVerified          bool
	Groups                 []string // the "groups" claim, in the ID token and at userinfo
}

// OP is a real OpenID Provider (github.com/zitadel/oidc/v3/pkg/op, a
// certified implementation) on loopback, with an in-memory storage
// (zitadel's example storage), one confidential web client
// (client_secret_basic, the code flow, PKCE S256) and a login form
// (#username, #password, #login) at /login/username. Its ID tokens carry
// the profile and email claims and "groups", as Google, Keycloak and
// Okta put them in the ID token. It closes with the test.
type OP struct {
	*httptest.Server
	Issuer, ClientID, ClientSecret string

	st *opStorage
	// Exchanges counts the code exchanges the token endpoint answered 200.
	Exchanges atomic.Int64
}

// NewOP starts an OP with users.
func NewOP(t testing.TB, users ...OPUser) *OP {
	o := &OP{ClientID: "llmbridge-admin", ClientSecret: "canary-oidc-client-secret-5151"}
	us := opUsers{}
	for _, u := range users {
		us[u.ID] = u
	}
	o.st = &opStorage{users: us, client: &opClient{id: o.ClientID}, secret: o.ClientSecret}
	o.st.Storage = storage.NewStorageWithClients(us, map[string]*storage.Client{})
	o.Server = httptest.NewUnstartedServer(nil)
	o.Issuer = "http://" + o.Listener.Addr().String()
	p, err := op.NewProvider(&op.Config{CryptoKey: sha256.Sum256([]byte("test op")), CodeMethodS256: true, AuthMethodPost: true},
		o.st, op.StaticIssuer(o.Issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login/username", func(w http.ResponseWriter, r *http.Request) { o.serveLogin(w, r, op.AuthCallbackURL(p)) })
	mux.Handle("/oauth/token", o.countExchanges(p))
	mux.Handle("/", p)
	o.Config.Handler = mux
	o.Start()
	t.Cleanup(o.Close)
	return o
}

// AllowRedirect registers a redirect URI of the client.
func (o *OP) AllowRedirect(uri string) { o.st.client.allow(uri) }

func (o *OP) countExchanges(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		if sw.status == http.StatusOK {
			o.Exchanges.Add(1)
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

var loginPage = template.Must(template.New("login").Parse(`<!doctype html><title>Test OP sign-in</title>
<form method="post" action="/login/username"><input type="hidden" name="id" value="{{.ID}}">
<input id="username" name="username"><input id="password" name="password" type="password">
<button id="login" type="submit">Sign in</button>{{if .Error}}<p id="op-error">{{.Error}}</p>{{end}}</form>`))

// serveLogin is the OP's login UI: a username and password form for an
// auth request, then back to the OP's callback.
func (o *OP) serveLogin(w http.ResponseWriter, r *http.Request, callback func(context.Context, string) string) {
	if r.Method == http.MethodPost {
		id := r.PostFormValue("id")
		if err := o.st.CheckUsernamePassword(r.PostFormValue("username"), r.PostFormValue("password"), id); err != nil {
			_ = loginPage.Execute(w, map[string]string{"ID": id, "Error": "wrong username or password"})
			return
		}
		http.Redirect(w, r, callback(r.Context(), id), http.StatusFound)
		return
	}
	_ = loginPage.Execute(w, map[string]string{"ID": r.URL.Query().Get("authRequestID")})
}

// opUsers is the example storage's UserStore over OPUsers.
type opUsers map[string]OPUser

func (u opUsers) user(x OPUser) *storage.User {
	return &storage.User{ID: x.ID, Username: x.Username, Password: x.Password, Email: x.Email, EmailVerified: x.EmailVerified,
		FirstName: x.Username, LastName: "Test"}
}

// GetUserByID implements storage.UserStore.
func (u opUsers) GetUserByID(id string) *storage.User {
	if x, ok := u[id]; ok {
		return u.user(x)
	}
	return nil
}

// GetUserByUsername implements storage.UserStore.
func (u opUsers) GetUserByUsername(name string) *storage.User {
	for _, x := range u {
		if x.Username == name {
			return u.user(x)
		}
	}
	return nil
}

// ExampleClientID implements storage.UserStore.
func (u opUsers) ExampleClientID() string { return "service" }

// opStorage is zitadel's example storage with this OP's client and the
// groups claim.
type opStorage struct {
	*storage.Storage
	users  opUsers
	client *opClient
	secret string
}

// GetClientByClientID implements op.Storage.
func (s *opStorage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != s.client.id {
		return nil, errors.New("client not found")
	}
	return s.client, nil
}

// AuthorizeClientIDSecret implements op.Storage.
func (s *opStorage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if id != s.client.id || secret != s.secret {
		return errors.New("invalid client secret")
	}
	return nil
}

// SetUserinfoFromRequest adds the groups to the ID token's claims.
func (s *opStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, t op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, t, scopes); err != nil {
		return err
	}
	ui.AppendClaims("groups", s.users[t.GetSubject()].Groups)
	return nil
}

// SetUserinfoFromToken adds the groups at the userinfo endpoint.
func (s *opStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	ui.AppendClaims("groups", s.users[ui.Subject].Groups)
	return nil
}

// opClient is the bridge's registration: a confidential web client.
type opClient struct {
	id string

	mu        sync.Mutex
	redirects []string
}

func (c *opClient) allow(uri string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.redirects, uri) {
		c.redirects = append(c.redirects, uri)
	}
}

// GetID implements op.Client.
func (c *opClient) GetID() string { return c.id }

// RedirectURIs implements op.Client.
func (c *opClient) RedirectURIs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.redirects)
}

// PostLogoutRedirectURIs implements op.Client.
func (c *opClient) PostLogoutRedirectURIs() []string { return nil }

// ApplicationType implements op.Client.
func (c *opClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }

// AuthMethod implements op.Client.
func (c *opClient) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodBasic }

// ResponseTypes implements op.Client.
func (c *opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

// GrantTypes implements op.Client.
func (c *opClient) GrantTypes() []oidc.GrantType { return []oidc.GrantType{oidc.GrantTypeCode} }

// LoginURL implements op.Client.
func (c *opClient) LoginURL(id string) string { return "/login/username?authRequestID=" + id }

// AccessTokenType implements op.Client.
func (c *opClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }

// IDTokenLifetime implements op.Client.
func (c *opClient) IDTokenLifetime() time.Duration { return 5 * time.Minute }

// DevMode implements op.Client.
func (c *opClient) DevMode() bool { return true } // http:// loopback redirect URIs
// IsScopeAllowed implements op.Client.
func (c *opClient) IsScopeAllowed(string) bool { return true }

// IDTokenUserinfoClaimsAssertion implements op.Client.
func (c *opClient) IDTokenUserinfoClaimsAssertion() bool { return true }

// ClockSkew implements op.Client.
func (c *opClient) ClockSkew() time.Duration { return 0 }

// RestrictAdditionalIdTokenScopes implements op.Client.
func (c *opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// RestrictAdditionalAccessTokenScopes implements op.Client.
func (c *opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
