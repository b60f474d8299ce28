package sso

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/llmbridge/llmbridge/internal/admin"
	"golang.org/x/oauth2"
)

// StateCookie is the cookie that carries one sign-in's state, nonce and
// PKCE verifier from Start to Finish.
const StateCookie = "llmbridge_oidc"

// stateTTL is how long a sign-in may take at the identity provider.
const stateTTL = 10 * time.Minute

// maxCallbackQuery bounds the callback's query: a code and a state are
// short; anything longer is refused before it is parsed further.
const maxCallbackQuery = 8 << 10

// Options are a Client's inputs besides its Config.
type Options struct {
	// Secret keys the state cookie (with a purpose of its own): the same
	// on every replica, so a sign-in may start on one and finish on
	// another.
	Secret []byte
	// HTTPClient talks to the identity provider; nil: a client with a
	// 15-second timeout.
	HTTPClient *http.Client
	// Logger receives refused sign-ins (never a token, code or secret);
	// nil: slog.Default().
	Logger *slog.Logger
	// Now replaces time.Now in tests (the state cookie's expiry and the ID
	// token's).
	Now func() time.Time
}

// Client runs the authorization code flow with PKCE against one
// identity provider. Its discovery document is fetched on the first
// sign-in (and again after a failure), so the bridge starts while the
// provider is unreachable. Safe for concurrent use.
type Client struct {
	cfg  Config
	o    Options
	box  *Box
	used *spent

	mu   sync.Mutex
	prov *oidc.Provider
	ver  *oidc.IDTokenVerifier
}

// New returns the client of cfg (checked with Config.Check).
func New(cfg Config, o Options) *Client {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if cfg.PublicURL == "" {
		o.Logger.Warn("single sign-on: LLMBRIDGE_PUBLIC_URL is not set, so the redirect URI is taken from each request's Host; set it to the URL browsers use (behind a proxy, surely)")
	}
	return &Client{cfg: cfg, o: o, box: NewBox(o.Secret, "oidc state"), used: &spent{m: map[string]time.Time{}}}
}

// Name labels the sign-in button ("Sign in with <Name>").
func (c *Client) Name() string { return c.cfg.Name }

// state is what the state cookie holds.
type state struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Redirect string `json:"r"` // the redirect URI sent, sent again to the token endpoint
	Next     string `json:"x"` // the UI page to open afterwards
	Expires  int64  `json:"e"` // Unix seconds
}

// provider returns the discovered provider and its ID token verifier.
func (c *Client) provider(ctx context.Context) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prov != nil {
		return c.prov, c.ver, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, c.o.HTTPClient), c.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("the identity provider's discovery document (%s/.well-known/openid-configuration) did not load: %w", strings.TrimSuffix(c.cfg.Issuer, "/"), err)
	}
	c.prov = p
	c.ver = p.VerifierContext(oidc.ClientContext(context.Background(), c.o.HTTPClient), &oidc.Config{ClientID: c.cfg.ClientID, Now: c.o.Now})
	return c.prov, c.ver, nil
}

func (c *Client) oauth(p *oidc.Provider, redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: redirect, Scopes: c.cfg.scopes()}
}

// redirectURI is PublicURL's callback, else the one of the URL r came to.
func (c *Client) redirectURI(r *http.Request) string {
	if c.cfg.PublicURL != "" {
		return strings.TrimSuffix(c.cfg.PublicURL, "/") + CallbackPath
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + CallbackPath
}

// secure reports whether cookies must be Secure: over TLS, or when the
// public URL is https (TLS ends at a proxy in front).
func (c *Client) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(c.cfg.PublicURL, "https://")
}

// Start begins a sign-in: it sets the state cookie and redirects the
// browser to the identity provider. next is the UI page to open
// afterwards, already checked by the caller. An error (the provider's
// discovery failed) is for the sign-in page; nothing was written.
func (c *Client) Start(w http.ResponseWriter, r *http.Request, next string) error {
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	p, _, err := c.provider(ctx)
	if err != nil {
		c.o.Logger.Error("single sign-on: discovery failed", "issuer", c.cfg.Issuer, "err", err)
		return err
	}
	st := state{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Redirect: c.redirectURI(r), Next: next,
		Expires: c.o.Now().Add(stateTTL).Unix()}
	sealed, err := c.box.Seal(st, StateCookie)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: StateCookie, Value: sealed, Path: "/admin/oidc/", MaxAge: int(stateTTL / time.Second),
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	u := c.oauth(p, st.Redirect).AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	http.Redirect(w, r, u, http.StatusFound)
	return nil
}

// random is 32 random bytes in URL-safe base64.
func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Finish completes a sign-in at the callback: it spends the state
// cookie (always removed), checks the state, exchanges the code with the
// PKCE verifier, verifies the ID token (signature by the provider's
// keys, issuer, audience, expiry, nonce) and maps the person to a
// principal. next is the page Start was given. A *Refusal is about who
// the person is; any other error is a broken or forged flow.
func (c *Client) Finish(w http.ResponseWriter, r *http.Request) (p admin.Principal, next string, err error) {
	http.SetCookie(w, &http.Cookie{Name: StateCookie, Value: "", Path: "/admin/oidc/", MaxAge: -1, HttpOnly: true,
		Secure: c.secure(r), SameSite: http.SameSiteLaxMode})
	st, code, err := c.checkCallback(r)
	if err != nil {
		c.o.Logger.Warn("single sign-on refused", "remote", r.RemoteAddr, "why", err)
		return p, "", err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	id, err := c.exchange(ctx, st, code)
	if err == nil {
		p, err = c.cfg.Principal(id)
	}
	if err != nil {
		c.o.Logger.Warn("single sign-on refused", "remote", r.RemoteAddr, "sub", id.Subject, "why", err)
		return p, "", err
	}
	c.o.Logger.Info("single sign-on", "remote", r.RemoteAddr, "email", p.Email, "sub", p.Subject, "role", p.Role, "team", p.Team)
	return p, st.Next, nil
}

// checkCallback reads the callback's query and the state cookie, and
// spends the state.
func (c *Client) checkCallback(r *http.Request) (state, string, error) {
	var st state
	if len(r.URL.RawQuery) > maxCallbackQuery {
		return st, "", errors.New("the callback's query is too long")
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return st, "", fmt.Errorf("the identity provider refused the sign-in: %s", clip(e+" "+q.Get("error_description")))
	}
	ck, err := r.Cookie(StateCookie)
	if err != nil {
		return st, "", errors.New("no sign-in in progress in this browser (the state cookie is missing: it lives 10 minutes, and the sign-in must start and end in the same browser)")
	}
	if err := c.box.Open(ck.Value, StateCookie, &st); err != nil {
		return st, "", errors.New("the state cookie does not open")
	}
	got, code := q.Get("state"), q.Get("code")
	switch {
	case c.o.Now().Unix() > st.Expires:
		return st, "", errors.New("the sign-in took over 10 minutes: start again")
	case subtle.ConstantTimeCompare([]byte(got), []byte(st.State)) != 1:
		return st, "", errors.New("the callback's state is not this browser's sign-in")
	case code == "":
		return st, "", errors.New("the callback carries no code")
	case !c.used.spend(st.State, time.Unix(st.Expires, 0), c.o.Now()):
		return st, "", errors.New("this sign-in was completed already (a state is used once)")
	}
	return st, code, nil
}

// exchange trades the code for tokens and verifies the ID token, then
// reads the identity from it (and from userinfo when it lacks the email
// or the groups).
func (c *Client) exchange(ctx context.Context, st state, code string) (Identity, error) {
	p, ver, err := c.provider(ctx)
	if err != nil {
		return Identity{}, err
	}
	ctx = oidc.ClientContext(ctx, c.o.HTTPClient)
	tok, err := c.oauth(p, st.Redirect).Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return Identity{}, fmt.Errorf("the code exchange failed: %s", exchangeError(err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, errors.New("the token response has no id_token (is the openid scope allowed for this client?)")
	}
	idt, err := ver.Verify(ctx, raw)
	if err != nil {
		return Identity{}, fmt.Errorf("the ID token is not valid: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return Identity{}, errors.New("the ID token's nonce is not this sign-in's")
	}
	id, err := c.identity(idt.Claims)
	if err == nil && (id.Email == "" || id.Groups == nil) && p.UserInfoEndpoint() != "" {
		id, err = c.fromUserInfo(ctx, p, tok, id)
	}
	return id, err
}

// exchangeError describes a failed exchange without what the provider
// echoed (which may include the code).
func exchangeError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return fmt.Sprintf("%d %s", re.Response.StatusCode, clip(re.ErrorCode))
		}
		return fmt.Sprintf("status %d", re.Response.StatusCode)
	}
	return "the token endpoint did not answer"
}

func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
