package oauthtoken

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *fakeClock               { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func tokenFor(n int32, exp time.Time) *oauth2.Token {
	return &oauth2.Token{AccessToken: fmt.Sprintf("tok-%d", n), Expiry: exp}
}

// Many concurrent callers share one fetch; the token is kept until
// shortly before it expires, then fetched again.
func TestCacheOneFetchThenRefreshAtExpiry(t *testing.T) {
	clock := newClock()
	var fetches atomic.Int32
	c := New("test", func(context.Context) (*oauth2.Token, error) {
		n := fetches.Add(1)
		time.Sleep(5 * time.Millisecond)                   // callers pile up behind the fetch
		return tokenFor(n, time.Now().Add(time.Hour)), nil // as oauth2 sets it: real now + expires_in
	}, nil, clock.now)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if tok, err := c.Token(context.Background()); err != nil || tok != "tok-1" {
				t.Errorf("token %q, %v", tok, err)
			}
		})
	}
	wg.Wait()
	clock.add(time.Hour - Early - time.Second)
	if tok, _ := c.Token(context.Background()); tok != "tok-1" || fetches.Load() != 1 {
		t.Fatalf("before the early window: %q after %d fetches", tok, fetches.Load())
	}
	clock.add(2 * time.Second) // within Early of the expiry
	if tok, _ := c.Token(context.Background()); tok != "tok-2" || fetches.Load() != 2 {
		t.Fatalf("in the early window: %q after %d fetches", tok, fetches.Load())
	}
}

// A short-lived token is replaced a tenth of its lifetime early, not
// Early (which would refresh it on every call).
func TestCacheShortLivedToken(t *testing.T) {
	clock := newClock()
	var fetches atomic.Int32
	c := New("test", func(context.Context) (*oauth2.Token, error) {
		return tokenFor(fetches.Add(1), time.Now().Add(60*time.Second)), nil
	}, nil, clock.now)
	c.Token(context.Background())
	clock.add(50 * time.Second)
	c.Token(context.Background())
	if fetches.Load() != 1 {
		t.Fatalf("%d fetches within the token's life", fetches.Load())
	}
	clock.add(5 * time.Second)
	c.Token(context.Background())
	if fetches.Load() != 2 {
		t.Fatalf("%d fetches after the token's life", fetches.Load())
	}
}

// Refused drops the token only while it is the current one, so a burst of
// 401s for the same token causes one new fetch, not one per request.
func TestCacheRefused(t *testing.T) {
	var fetches atomic.Int32
	c := New("test", func(context.Context) (*oauth2.Token, error) { return tokenFor(fetches.Add(1), time.Time{}), nil }, nil, nil)
	c.Token(context.Background())
	for range 3 {
		if !c.Refused("tok-1") {
			t.Fatal("Refused(current) = false")
		}
	}
	if tok, _ := c.Token(context.Background()); tok != "tok-2" {
		t.Fatalf("after refusal: %q", tok)
	}
	c.Refused("tok-1") // a late 401 for the old token
	if tok, _ := c.Token(context.Background()); tok != "tok-2" || fetches.Load() != 2 {
		t.Fatalf("a stale refusal dropped the new token: %q, %d fetches", tok, fetches.Load())
	}
	if c.Refused("") {
		t.Error("Refused(\"\") = true")
	}
}

// Token errors name the service and the OAuth code, never the body the
// endpoint sent (which may echo the secret) nor the secret.
func TestCacheErrorsCarryNoSecret(t *testing.T) {
	const secret = "s3cr3t-client-value"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":"secret %s is wrong"}`, r.PostForm.Get("client_secret"))
	}))
	defer srv.Close()
	cc := &clientcredentials.Config{ClientID: "c", ClientSecret: secret, TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}
	_, err := New("Microsoft Entra ID", cc.Token, nil, nil).Token(context.Background())
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "HTTP 401 invalid_client") {
		t.Fatalf("error %v", err)
	}
}

// The token client follows no redirect: the credentials stay with the
// configured endpoint.
func TestClientRefusesRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	srv := httptest.NewServer(http.RedirectHandler(other.URL+"/steal", http.StatusTemporaryRedirect))
	defer srv.Close()
	cc := &clientcredentials.Config{ClientID: "c", ClientSecret: "secret", TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}
	_, err := New("Microsoft Entra ID", cc.Token, nil, nil).Token(context.Background())
	if err == nil || elsewhere.Load() != 0 {
		t.Fatalf("redirect followed (%d) or no error: %v", elsewhere.Load(), err)
	}
	if c := Client(); c.Timeout != Timeout {
		t.Errorf("client timeout %v", c.Timeout)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		t.Errorf("the error keeps the raw answer: %T", err)
	}
}
