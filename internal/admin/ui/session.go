package ui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/llmbridge/llmbridge/internal/admin"
	"github.com/llmbridge/llmbridge/internal/sso"
)

// CookieName is the session cookie's name.
const CookieName = "llmbridge_admin"

// CSRFHeader is the header the pages' JavaScript sends the session's CSRF
// token in on every state-changing call to the admin API.
const CSRFHeader = "X-CSRF-Token"

// Revocations remember the sessions signed out before they expire, so
// that a copy of a signed-out cookie opens nothing. A store shared by
// the replicas (internal/liveconfig) ends a session on every replica at
// once; the in-process default only on this one. Implementations must
// be safe for concurrent use.
type Revocations interface {
	// Revoke ends session id (its cookie expires at until).
	Revoke(ctx context.Context, id string, until time.Time) error
	// Revoked reports whether session id was revoked. An error refuses
	// the session (fail closed).
	Revoked(ctx context.Context, id string) (bool, error)
}

// session is one signed-in browser, as its cookie carries it: sealed
// (AES-256-GCM, internal/sso.Box) with a key derived from the server's
// secret and the admin key, so every replica with the same configuration
// opens it, and a changed admin key opens none made before.
type session struct {
	ID        string          `json:"i"`
	Principal admin.Principal `json:"p"`
	Expires   int64           `json:"e"` // Unix milliseconds

	csrf string // HMAC of ID: bound to the session, the same on every replica
}

// sessions make and check the session cookies. Safe for concurrent use.
type sessions struct {
	ttl     time.Duration
	now     func() time.Time
	revoked Revocations
	poll    time.Duration // how often a lasting response asks whether its session was revoked

	mu      sync.Mutex
	box     *sso.Box // nil until keyed: no session opens
	csrfKey []byte
	// gen ends when the key changes (every session made before ends).
	gen     context.Context
	genStop context.CancelFunc
	// streams are the lasting responses by session id, ended at sign-out.
	streams map[string]map[uint64]context.CancelFunc
	next    uint64
}

func newSessions(ttl time.Duration, now func() time.Time, revoked Revocations) *sessions {
	if revoked == nil {
		revoked = &memoryRevocations{m: map[string]time.Time{}, now: now}
	}
	gen, stop := context.WithCancel(context.Background())
	return &sessions{ttl: ttl, now: now, revoked: revoked, poll: 5 * time.Second, gen: gen, genStop: stop,
		streams: map[string]map[uint64]context.CancelFunc{}}
}

// rekey derives the cookie and CSRF keys from secret (nil: no session
// opens) and ends every session made under the old ones.
func (s *sessions) rekey(secret []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.genStop()
	s.gen, s.genStop = context.WithCancel(context.Background())
	s.box, s.csrfKey = nil, nil
	if secret != nil {
		s.box = sso.NewBox(secret, "admin session")
		k := sha256.Sum256(append([]byte("llmbridge csrf\x00"), secret...))
		s.csrfKey = k[:]
	}
}

// token returns 32 random bytes, base64url-encoded.
func token() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session of p and returns its cookie value and expiry
// ("" when the sessions have no key).
func (s *sessions) create(p admin.Principal) (value string, expires time.Time) {
	expires = s.now().Add(s.ttl)
	s.mu.Lock()
	box := s.box
	s.mu.Unlock()
	if box == nil {
		return "", expires
	}
	value, err := box.Seal(session{ID: token(), Principal: p, Expires: expires.UnixMilli()}, CookieName)
	if err != nil {
		return "", expires
	}
	return value, expires
}

// seal seals v for aad with the session key (the handoff cookie).
func (s *sessions) seal(v any, aad string) (string, error) {
	s.mu.Lock()
	box := s.box
	s.mu.Unlock()
	if box == nil {
		return "", sso.ErrSealed
	}
	return box.Seal(v, aad)
}

// unseal opens what seal sealed for aad.
func (s *sessions) unseal(sealed, aad string, v any) error {
	s.mu.Lock()
	box := s.box
	s.mu.Unlock()
	if box == nil {
		return sso.ErrSealed
	}
	return box.Open(sealed, aad, v)
}

// open returns the session a cookie value holds when it opens and has
// not expired (revocation not asked).
func (s *sessions) open(value string) (session, bool) {
	s.mu.Lock()
	box, key := s.box, s.csrfKey
	s.mu.Unlock()
	var se session
	if box == nil || value == "" || box.Open(value, CookieName, &se) != nil || se.ID == "" || s.now().UnixMilli() >= se.Expires {
		return session{}, false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(se.ID))
	se.csrf = base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	return se, true
}

// lookup returns the live session whose cookie r carries: it opens, has
// not expired and was not revoked.
func (s *sessions) lookup(r *http.Request) (session, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return session{}, false
	}
	se, ok := s.open(c.Value)
	if !ok {
		return session{}, false
	}
	if gone, err := s.revoked.Revoked(r.Context(), se.ID); gone || err != nil {
		return session{}, false
	}
	return se, true
}

// end revokes the session whose cookie r carries, if any, and ends its
// lasting responses on this replica.
func (s *sessions) end(r *http.Request) error {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	se, ok := s.open(c.Value)
	if !ok {
		return nil
	}
	err = s.revoked.Revoke(context.WithoutCancel(r.Context()), se.ID, time.UnixMilli(se.Expires))
	s.mu.Lock()
	for _, stop := range s.streams[se.ID] {
		stop()
	}
	delete(s.streams, se.ID)
	s.mu.Unlock()
	return err
}

// stream returns a context derived from parent that also ends when se
// does: its expiry, its sign-out (on this replica at once, on another
// within s.poll), or a new key. stop must be called when done.
func (s *sessions) stream(parent context.Context, se session) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithDeadline(parent, time.UnixMilli(se.Expires))
	s.mu.Lock()
	stopGen := context.AfterFunc(s.gen, cancel) // runs at once if the key changed since
	s.next++
	n := s.next
	if s.streams[se.ID] == nil {
		s.streams[se.ID] = map[uint64]context.CancelFunc{}
	}
	s.streams[se.ID][n] = cancel
	s.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(s.poll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if gone, err := s.revoked.Revoked(ctx, se.ID); gone || err != nil && ctx.Err() == nil {
					cancel()
				}
			}
		}
	})
	return ctx, func() {
		cancel()
		stopGen()
		wg.Wait()
		s.mu.Lock()
		delete(s.streams[se.ID], n)
		if len(s.streams[se.ID]) == 0 {
			delete(s.streams, se.ID)
		}
		s.mu.Unlock()
	}
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

// sessionCookie is the cookie that carries value for ttl, Secure when
// secure; an empty value removes the cookie.
func sessionCookie(secure bool, value string, expires time.Time, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{Name: CookieName, Value: value, Path: "/admin/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure, Expires: expires, MaxAge: int(ttl / time.Second)}
	if value == "" {
		c.MaxAge, c.Expires = -1, time.Unix(0, 0)
	}
	return c
}

// memoryRevocations are the sign-outs of this process: a copy of a
// signed-out cookie still opens on other replicas (use a shared store).
type memoryRevocations struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]time.Time
}

// Revoke implements Revocations.
func (m *memoryRevocations) Revoke(_ context.Context, id string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for k, u := range m.m {
		if !now.Before(u) {
			delete(m.m, k)
		}
	}
	m.m[id] = until
	return nil
}

// Revoked implements Revocations.
func (m *memoryRevocations) Revoked(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.m[id]
	return ok, nil
}
