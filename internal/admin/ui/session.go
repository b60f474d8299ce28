package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// CookieName is the session cookie's name.
const CookieName = "llmbridge_admin"

// CSRFHeader is the header the pages' JavaScript sends the session's CSRF
// token in on every state-changing call to the admin API.
const CSRFHeader = "X-CSRF-Token"

// maxSessions bounds the sessions kept; signing in beyond it ends the
// session that expires first.
const maxSessions = 1000

// session is one signed-in browser. The store keys it by the SHA-256 of
// the cookie's value, so the map never holds a usable token.
type session struct {
	expires time.Time
	csrf    string
	// ctx is done once the session ends: taken out of the store (sign-out,
	// a changed admin key, eviction, expiry noticed) or its TTL passed.
	// Responses that outlast a request (the live feed) stop with it.
	ctx    context.Context
	cancel context.CancelFunc
}

// sessions are the signed-in browsers. Safe for concurrent use.
type sessions struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[[32]byte]session
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, m: map[[32]byte]session{}}
}

// token returns 32 random bytes, base64url-encoded.
func token() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session and returns its cookie value and expiry.
func (s *sessions) create() (value string, expires time.Time) {
	value = token()
	now := s.now()
	expires = now.Add(s.ttl)
	// The TTL on the real clock: expiry must end the session's streams
	// even when no request comes to notice it.
	ctx, cancel := context.WithTimeout(context.Background(), s.ttl)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if !now.Before(v.expires) {
			s.drop(k)
		}
	}
	if len(s.m) >= maxSessions {
		var oldest [32]byte
		first := true
		for k, v := range s.m {
			if first || v.expires.Before(s.m[oldest].expires) {
				oldest, first = k, false
			}
		}
		s.drop(oldest)
	}
	s.m[sha256.Sum256([]byte(value))] = session{expires: expires, csrf: token(), ctx: ctx, cancel: cancel}
	return value, expires
}

// drop ends the session id: it leaves the store and its context is
// cancelled. s.mu is held.
func (s *sessions) drop(id [32]byte) {
	if se, ok := s.m[id]; ok {
		se.cancel()
		delete(s.m, id)
	}
}

// lookup returns the live session whose cookie r carries.
func (s *sessions) lookup(r *http.Request) (session, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return session{}, false
	}
	id := sha256.Sum256([]byte(c.Value))
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.m[id]
	if ok && !s.now().Before(se.expires) {
		s.drop(id)
		return session{}, false
	}
	return se, ok
}

// end ends the session whose cookie r carries, if any.
func (s *sessions) end(r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil {
		s.mu.Lock()
		s.drop(sha256.Sum256([]byte(c.Value)))
		s.mu.Unlock()
	}
}

// clear ends every session (the admin key changed).
func (s *sessions) clear() {
	s.mu.Lock()
	for id := range s.m {
		s.drop(id)
	}
	s.mu.Unlock()
}

// csrfOK reports whether got is the session's CSRF token, comparing in
// constant time.
func csrfOK(se session, got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(se.csrf)) == 1
}

// safeMethod reports whether m changes nothing (no CSRF token needed).
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sessionCookie is the cookie that carries value for ttl; an empty value
// removes the cookie.
func sessionCookie(r *http.Request, value string, expires time.Time, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{Name: CookieName, Value: value, Path: "/admin/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, Expires: expires, MaxAge: int(ttl / time.Second)}
	if value == "" {
		c.MaxAge, c.Expires = -1, time.Unix(0, 0)
	}
	return c
}
