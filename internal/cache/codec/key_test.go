package codec

import (
	"net/http"
	"testing"
)

// Hash indexes the header by KeyHeaders' names as they are: each must be
// in canonical form, as net/http keys a request's header.
func TestKeyHeadersAreCanonical(t *testing.T) {
	for _, name := range KeyHeaders {
		if c := http.CanonicalHeaderKey(name); c != name {
			t.Errorf("KeyHeaders has %q, canonical %q", name, c)
		}
	}
}
