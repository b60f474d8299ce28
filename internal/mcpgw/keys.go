package mcpgw

import (
	"errors"
	"net/http"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/keys"
)

// KeysAuth is the Authenticate of the bridge's keys: the access keys and
// virtual keys of a, with the servers each key may use
// (keys.Admitter.MCPAccess: a virtual key only those it names). The check is a's, the same as the
// model API's, made on every request, so a revoked key stops at once.
func KeysAuth(a *keys.Admitter) func(http.Header) (Caller, error) {
	return func(h http.Header) (Caller, error) {
		id, allows, err := a.MCPAccess(h)
		var ae *llmbridge.APIError
		switch {
		case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
			return Caller{}, ErrUnauthorized
		case err != nil:
			return Caller{}, err
		}
		return Caller{KeyID: id, Allows: allows}, nil
	}
}
