package testupstream

import (
	"crypto/subtle"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// Entra is a Microsoft Entra ID token endpoint for the client-credentials
// flow (v2.0): POST /{tenant}/oauth2/v2.0/token with
// grant_type=client_credentials, client_id, client_secret (in the form, or
// as HTTP Basic auth) and scope https://cognitiveservices.azure.com/.default.
// A wrong secret is 401 invalid_client (AADSTS7000215), an unknown tenant
// 400 invalid_request, another scope 400 invalid_scope, as Entra answers.
// Tokens are opaque strings it remembers (Valid, for Server.Bearer).
type Entra struct {
	*httptest.Server
	Tenant, ClientID, ClientSecret string
	issuer
}

// NewEntra starts an Entra token endpoint for one app registration that
// hands out tokens living an hour; it closes with the test.
func NewEntra(t testing.TB, tenant, clientID, secret string) *Entra {
	e := &Entra{Tenant: tenant, ClientID: clientID, ClientSecret: secret, issuer: issuer{prefix: "eyJ0eXAiOiJKV1Qi.entra-", expiresIn: 3599}}
	e.Server = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.Close)
	return e
}

// Authority is the authority URL to configure (the tenant is appended).
func (e *Entra) Authority() string { return e.URL }

func (e *Entra) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/"+e.Tenant+"/oauth2/v2.0/token" {
		oauthError(w, 400, "invalid_request", "AADSTS90002: Tenant '"+r.URL.Path+"' not found.")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(p)
	}
	switch {
	case r.PostForm.Get("grant_type") != "client_credentials":
		oauthError(w, 400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
	case id != e.ClientID:
		oauthError(w, 400, "unauthorized_client", "AADSTS700016: Application with identifier '"+id+"' was not found in the directory.")
	case subtle.ConstantTimeCompare([]byte(secret), []byte(e.ClientSecret)) != 1:
		oauthError(w, 401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
	case r.PostForm.Get("scope") != "https://cognitiveservices.azure.com/.default":
		oauthError(w, 400, "invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is not valid.")
	default:
		e.issue(w, `,"ext_expires_in":3599`)
	}
}
