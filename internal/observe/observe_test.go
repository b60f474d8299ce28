package observe

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/usage"
)

const adminKey = "admin-key-0123456789"

func newObs(t *testing.T, s Settings) *Observability {
	t.Helper()
	o, err := New(s, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

func do(h http.Handler, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/admin/api/live", nil)
	ctx, cancel := context.WithCancel(r.Context())
	cancel() // a feed that is let in returns at once
	r = r.WithContext(ctx)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// The live feed takes the admin key by the admin API's rule
// (secret.StrictCredential) and answers as the admin API does.
func TestLiveFeedNeedsTheAdminKey(t *testing.T) {
	o := newObs(t, Settings{AdminKey: adminKey})
	live := http.HandlerFunc(o.ServeLive)
	for _, tc := range []struct {
		name   string
		header []string
		want   int
	}{
		{"none", nil, 401},
		{"wrong", []string{"Authorization", "Bearer nope"}, 401},
		{"bearer", []string{"Authorization", "Bearer " + adminKey}, 200},
		{"bearer any case", []string{"Authorization", "bearer " + adminKey}, 200},
		{"x-api-key", []string{"X-Api-Key", adminKey}, 200},
		{"another scheme hides x-api-key", []string{"Authorization", "Basic eA==", "X-Api-Key", adminKey}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(live, tc.header...)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want == 401 {
				if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="llmbridge-admin"` {
					t.Errorf("WWW-Authenticate %q", got)
				}
				if !strings.Contains(w.Body.String(), `"code":"invalid_api_key"`) || !strings.Contains(w.Body.String(), "access keys are not accepted here") {
					t.Errorf("body %s", w.Body)
				}
			}
		})
	}
	// A session the UI vouches for needs no key.
	session := o.LiveHandler(func(r *http.Request) (context.Context, context.CancelFunc, bool) {
		ctx, cancel := context.WithCancel(r.Context())
		return ctx, cancel, r.Header.Get("Cookie") == "session"
	})
	if w := do(session, "Cookie", "session"); w.Code != 200 {
		t.Errorf("with a session: %d", w.Code)
	}
	if w := do(session); w.Code != 401 {
		t.Errorf("without a session or key: %d", w.Code)
	}
}

func TestLiveFeedOffWithoutAnAdminKey(t *testing.T) {
	o := newObs(t, Settings{})
	w := do(http.HandlerFunc(o.ServeLive), "Authorization", "Bearer "+adminKey)
	if w.Code != 404 || !strings.Contains(w.Body.String(), "admin_api_disabled") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	o.Reload(Settings{AdminKey: adminKey})
	if w := do(http.HandlerFunc(o.ServeLive), "Authorization", "Bearer "+adminKey); w.Code != 200 {
		t.Errorf("after a reload with the key: %d", w.Code)
	}
}

// A feed opened with the admin key ends when a reload changes the key,
// and lives on through a reload that keeps it.
func TestRotatedAdminKeyEndsItsFeeds(t *testing.T) {
	o := newObs(t, Settings{AdminKey: adminKey})
	srv := httptest.NewServer(http.HandlerFunc(o.ServeLive))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("feed: %v %v", err, resp)
	}
	defer resp.Body.Close()
	ended := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(resp.Body))
		close(ended)
	}()
	o.Reload(Settings{AdminKey: adminKey})
	select {
	case <-ended:
		t.Fatal("a reload with the same admin key ended the feed")
	case <-time.After(100 * time.Millisecond):
	}
	o.Reload(Settings{AdminKey: adminKey + "-new"})
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the feed outlived its admin key")
	}
}

func TestMetricsHandler(t *testing.T) {
	fallback := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	get := func(h http.Handler, auth string) int {
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/metrics", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	o := newObs(t, Settings{MetricsToken: "metrics-token"})
	h := o.MetricsHandler(fallback)
	if c := get(h, "Bearer metrics-token"); c != 200 {
		t.Errorf("with the token: %d", c)
	}
	if c := get(h, ""); c != 401 {
		t.Errorf("without: %d", c)
	}
	o.Reload(Settings{MetricsToken: "rotated"})
	if c := get(h, "Bearer metrics-token"); c != 401 {
		t.Errorf("the old token after a reload: %d", c)
	}
	if c := get(h, "Bearer rotated"); c != 200 {
		t.Errorf("the new token: %d", c)
	}
	own := newObs(t, Settings{MetricsAddr: "127.0.0.1:0"})
	if c := get(own.MetricsHandler(fallback), ""); c != http.StatusTeapot {
		t.Errorf("metrics on a listener of their own: main listener answered %d, want the fallback", c)
	}
}

func TestSettingsCheck(t *testing.T) {
	s := Settings{MetricsAddr: "9464", MetricsToken: "shared"}
	err := s.Check([]string{"a", "shared"})
	if err == nil || !strings.Contains(err.Error(), `LLMBRIDGE_METRICS_ADDR "9464": want host:port`) ||
		!strings.Contains(err.Error(), "LLMBRIDGE_METRICS_TOKEN must differ") {
		t.Errorf("%v", err)
	}
	ok := Settings{MetricsAddr: "127.0.0.1:9464", MetricsToken: "own"}
	if err := ok.Check([]string{"a", ""}); err != nil {
		t.Errorf("%v", err)
	}
	if err := (&Settings{}).Check([]string{""}); err != nil {
		t.Errorf("empty settings: %v", err)
	}
}

func TestBridgeOptions(t *testing.T) {
	o := newObs(t, Settings{Prices: usage.DefaultPrices()})
	if n := len(o.BridgeOptions()); n != 2 {
		t.Errorf("%d observers without alerts, want metrics and live", n)
	}
}
