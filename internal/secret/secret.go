// Package secret is the one key check of the module: where a client's key
// is read from a request (Credential, StrictCredential, Bearer) and how it
// is compared with the keys we hold (Digest, Set). The access-key
// admitter, the admin API, the admin UI's sign-in, the live feed and the
// metrics guard all use it, so a rule changes in one place.
//
// Keys are held as SHA-256 digests and compared digest to digest with
// crypto/subtle, so neither a key's contents nor its length shows in the
// time a comparison takes. The empty key never matches anything.
package secret

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Credential returns the key a client presented in h, or "":
//
//   - "Authorization: Bearer <key>" (the scheme in any case, at least one
//     character after "Bearer "), its key with surrounding white space
//     trimmed;
//   - otherwise the x-api-key header, trimmed — also when Authorization
//     holds another scheme (Basic …) or a bare "Bearer".
//
// It is the model API's rule (llmbridge.Request.Credential): clients of
// OpenAI's and Anthropic's APIs send one header or the other. A nil h
// gives "". The result is a secret: compare it, never log or store it.
func Credential(h http.Header) string {
	if h == nil {
		return ""
	}
	if k, ok := bearer(h); ok {
		return k
	}
	return strings.TrimSpace(h.Get("X-Api-Key"))
}

// StrictCredential is Credential for the admin endpoints (the admin API
// and the live feed): the same two headers, except that an Authorization
// header that is not a Bearer token hides x-api-key and gives "". A
// request that names a scheme is judged by that header alone.
func StrictCredential(h http.Header) string {
	if h == nil {
		return ""
	}
	if k, ok := bearer(h); ok {
		return k
	}
	if h.Get("Authorization") != "" {
		return ""
	}
	return strings.TrimSpace(h.Get("X-Api-Key"))
}

// Bearer returns the token of "Authorization: Bearer <token>" in h as
// Credential reads it, or "": x-api-key is not looked at. The metrics
// guard takes only this header, as Prometheus's scrape configuration
// sends it.
func Bearer(h http.Header) string {
	if h == nil {
		return ""
	}
	k, _ := bearer(h)
	return k
}

// bearer returns the trimmed token of a Bearer Authorization header and
// whether the header is one ("Bearer " and at least one more byte).
func bearer(h http.Header) (string, bool) {
	a := h.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:]), true
	}
	return "", false
}

// Digest is the SHA-256 digest of a key: what a check keeps instead of
// the key. To say "no key" (a check that is off), use a nil *Digest or
// an empty Set, not the zero Digest.
type Digest [sha256.Size]byte

// Sum returns the digest of key.
func Sum(key string) Digest { return sha256.Sum256([]byte(key)) }

// Matches reports whether key is the key d was summed from, comparing
// the digests in constant time. The empty key never matches, even when
// d is Sum("").
func (d Digest) Matches(key string) bool {
	return Set{d}.Index(key) == 0
}

// Set is the digests of several keys, in the caller's order. Its element
// type is a plain SHA-256 array so that a slice of sha256.Sum256 results
// converts to a Set without copying. The nil Set holds no key.
type Set [][sha256.Size]byte

// Index returns the position in s of the digest of key, or -1 when key
// is "" or matches none. Every digest is compared, each in constant time
// and without stopping at a match, so the time taken depends only on
// len(s): it tells neither whether the key matched nor which one. When
// several digests are equal the last position is returned. Index only
// reads s and is safe for concurrent use with other readers.
func (s Set) Index(key string) int {
	if key == "" {
		return -1
	}
	sum := sha256.Sum256([]byte(key))
	found := -1
	for i := range s {
		eq := subtle.ConstantTimeCompare(sum[:], s[i][:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	return found
}
