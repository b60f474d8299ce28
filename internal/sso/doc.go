// Package sso signs people in to the admin UI with an OpenID Connect
// identity provider (Google, Microsoft Entra, Okta, Keycloak, Dex, …):
// the authorization code flow with PKCE (github.com/coreos/go-oidc/v3
// and golang.org/x/oauth2), and the mapping of a verified ID token's
// email and groups to a role and team (internal/admin: Principal).
//
// The flow survives the identity provider living on another site: the
// state, nonce and PKCE verifier of one sign-in travel in a sealed,
// HttpOnly, SameSite=Lax cookie that lives ten minutes and is spent by
// the callback (Client.Start, Client.Finish); the UI (internal/admin/ui)
// then sets its SameSite=Strict session cookie on a same-site step.
//
// Box seals small values (the state cookie, the UI's session cookie)
// with AES-256-GCM under a key derived with HKDF from the server's
// secret, so every replica with the same configuration opens what
// another sealed. Nothing here logs a token, code or secret.
package sso
