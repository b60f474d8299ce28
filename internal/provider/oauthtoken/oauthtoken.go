// Package oauthtoken caches the OAuth access tokens of the cloud providers
// (Azure with Microsoft Entra ID, Google Vertex AI): one token per
// provider, fetched when first needed, kept until shortly before it
// expires, dropped when the upstream refuses it (and then fetched again
// once). Token requests go through a bounded client that never follows a
// redirect, and token errors name the failure without any secret.
package oauthtoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Early is how long before its expiry a token is replaced: long enough
// that a request started with it is not refused on the way.
const Early = 2 * time.Minute

// Timeout bounds one token request.
const Timeout = 10 * time.Second

// Fetch gets a new token; ctx carries the HTTP client to use
// (oauth2.HTTPClient) and the request's deadline.
type Fetch func(ctx context.Context) (*oauth2.Token, error)

// Cache holds one provider's token. It is safe for concurrent use: callers
// that find no valid token wait for the one fetch in flight rather than
// start their own.
type Cache struct {
	fetch  Fetch
	what   string // "Microsoft Entra ID", named in errors
	client *http.Client
	now    func() time.Time

	mu   sync.Mutex
	tok  *oauth2.Token
	life time.Duration // tok's lifetime when fetched; 0: no expiry
	exp  time.Time     // its expiry on the cache's clock
}

// New returns a Cache that gets its tokens from fetch; what names the
// token service in errors. client sends the token requests (nil: Client()),
// now is the clock (nil: time.Now).
func New(what string, fetch Fetch, client *http.Client, now func() time.Time) *Cache {
	if client == nil {
		client = Client()
	}
	if now == nil {
		now = time.Now
	}
	return &Cache{fetch: fetch, what: what, client: client, now: now}
}

// Client returns the client token requests use by default: Timeout per
// request, redirects refused (a token endpoint that redirects is
// misconfigured, and following it would send the credentials elsewhere).
func Client() *http.Client {
	return &http.Client{Timeout: Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Token returns a valid access token, fetching one when none is cached or
// the cached one expires within Early (or within a tenth of its lifetime,
// for short-lived ones). The error never contains a secret.
func (c *Cache) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != nil && c.fresh() {
		return c.tok.AccessToken, nil
	}
	tok, err := c.fetch(context.WithValue(ctx, oauth2.HTTPClient, c.client))
	if err != nil {
		return "", c.describe(err)
	}
	if tok == nil || tok.AccessToken == "" {
		return "", fmt.Errorf("%s answered without an access token", c.what)
	}
	// oauth2 sets Expiry from the real clock (now + expires_in); the
	// cache keeps the lifetime on its own clock.
	c.tok, c.life = tok, 0
	if !tok.Expiry.IsZero() {
		c.life = time.Until(tok.Expiry)
		c.exp = c.now().Add(c.life)
	}
	return tok.AccessToken, nil
}

// fresh reports whether the cached token is good for a while yet. A
// token without an expiry is kept until refused.
func (c *Cache) fresh() bool {
	if c.life == 0 {
		return true
	}
	return c.now().Add(min(Early, c.life/10)).Before(c.exp)
}

// Refused drops token when it is still the cached one (the upstream
// refused it with 401) and reports whether a request should be tried
// again with a new one: true when token was current or a newer one is
// cached already, false when token is empty.
func (c *Cache) Refused(token string) bool {
	if token == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != nil && c.tok.AccessToken == token {
		c.tok = nil
	}
	return true
}

// describe turns a fetch error into one that names the token service and
// its answer (status and OAuth error code) but no response body, which a
// misbehaving endpoint might fill with the credentials it was sent.
func (c *Cache) describe(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := fmt.Sprintf("%s refused the token request", c.what)
		if re.Response != nil {
			msg += fmt.Sprintf(": HTTP %d", re.Response.StatusCode)
		}
		code := re.ErrorCode
		if code == "" { // the JWT flow leaves it unparsed
			var body struct{ Error string }
			_ = json.Unmarshal(re.Body, &body)
			code = body.Error
		}
		if code = safeCode(code); code != "" {
			msg += " " + code
		}
		return errors.New(msg)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// The URL is the token endpoint's (no secret); the cause is the
		// transport's (dial, TLS, timeout).
		return fmt.Errorf("%s: token request to %s failed: %v", c.what, hostOf(ue.URL), ue.Err)
	}
	return fmt.Errorf("%s: the token answer could not be read", c.what)
}

// hostOf is a URL's scheme and host, without path, query or user info.
func hostOf(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the token endpoint"
	}
	return u.Scheme + "://" + u.Host
}

// safeCode keeps an OAuth error code ("invalid_client") if it looks like
// one, and nothing else.
func safeCode(s string) string {
	if len(s) > 64 || strings.IndexFunc(s, func(r rune) bool { return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') }) >= 0 {
		return ""
	}
	return s
}
