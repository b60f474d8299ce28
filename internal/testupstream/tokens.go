package testupstream

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
)

// issuer hands out the access tokens of a fake token endpoint and
// remembers which are valid.
type issuer struct {
	prefix string
	mu     sync.Mutex
	n      int // token requests answered with a token
	valid  map[string]bool
	// ExpiresIn is the lifetime announced for new tokens, in seconds.
	expiresIn int
}

func (i *issuer) issue(w http.ResponseWriter, extra string) {
	i.mu.Lock()
	i.n++
	tok := fmt.Sprintf("%s%d-%s", i.prefix, i.n, "Zm9vYmFyYmF6cXV4")
	if i.valid == nil {
		i.valid = map[string]bool{}
	}
	i.valid[tok] = true
	exp := i.expiresIn
	i.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":%d%s,"access_token":%q}`, exp, extra, tok)
}

// Issued returns how many tokens the endpoint has handed out.
func (i *issuer) Issued() int { i.mu.Lock(); defer i.mu.Unlock(); return i.n }

// Valid reports whether tok was issued here and not revoked; an upstream
// fake uses it as Server.Bearer.
func (i *issuer) Valid(tok string) bool { i.mu.Lock(); defer i.mu.Unlock(); return i.valid[tok] }

// RevokeAll makes every token issued so far invalid, as a rotated secret
// or a disabled account would.
func (i *issuer) RevokeAll() { i.mu.Lock(); clear(i.valid); i.mu.Unlock() }

// SetExpiresIn sets the lifetime announced for the next tokens.
func (i *issuer) SetExpiresIn(seconds int) { i.mu.Lock(); i.expiresIn = seconds; i.mu.Unlock() }

// oauthError answers an RFC 6749 error.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"error": code, "error_description": desc})
	w.Write(b)
}
