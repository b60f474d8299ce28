package azure_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/provider/azure"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

const entraSecret = "Q~8Qz.client-secret-value-for-tests"

// clock is a fake clock for the token cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// entra is an Azure fake that takes the tokens of an Entra fake, and a
// client of a bridge whose provider signs in with secret on clk.
func entra(t *testing.T, secret string, clk *clock) (*testupstream.Server, *testupstream.Entra, *openai.Client) {
	id := testupstream.NewEntra(t, "72f988bf-86f1-41af-91ab-2d7cd011db47", "0b1c2d3e-app", entraSecret)
	up := testupstream.New(t, testupstream.Azure)
	up.Bearer = id.Valid
	p := azure.New(azure.Config{Config: endpoint.Config{Name: "azure", BaseURL: up.BaseURL()}, Now: clk.now,
		Entra: &azure.Entra{TenantID: id.Tenant, ClientID: id.ClientID, ClientSecret: secret, Authority: id.Authority()}})
	return up, id, bridge(t, p)
}

// One token serves many calls; after it expires (on the fake clock) a new
// one is fetched; a token Azure refuses (401) is replaced once and the
// call goes through.
func TestEntraTokens(t *testing.T) {
	clk := &clock{t: time.Now()}
	up, id, c := entra(t, entraSecret, clk)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.Chat.Completions.New(ctx(t), hi("azure/gpt-4o-mini")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := id.Issued(); n != 1 {
		t.Fatalf("%d token requests for 8 calls, want 1", n)
	}
	for _, r := range up.Requests() {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer eyJ") || r.Header.Get("Api-Key") != "" {
			t.Fatalf("upstream headers %v", r.Header)
		}
	}

	clk.add(time.Hour)
	if _, err := c.Chat.Completions.New(ctx(t), hi("azure/gpt-4o-mini")); err != nil || id.Issued() != 2 {
		t.Fatalf("after expiry: %d token requests, %v", id.Issued(), err)
	}

	id.RevokeAll() // Azure now refuses the cached token
	before := len(up.Requests())
	if _, err := c.Chat.Completions.New(ctx(t), hi("azure/gpt-4o-mini")); err != nil {
		t.Fatalf("a refused token was not replaced: %v", err)
	}
	if id.Issued() != 3 || len(up.Requests())-before != 2 {
		t.Errorf("after a 401: %d token requests, %d upstream attempts", id.Issued(), len(up.Requests())-before)
	}
}

// A token that is refused again after the refresh is not refreshed in a
// loop: the client gets Azure's 401.
func TestEntraRefusedTwice(t *testing.T) {
	clk := &clock{t: time.Now()}
	up, id, c := entra(t, entraSecret, clk)
	up.Bearer = func(string) bool { return false }
	_, err := c.Chat.Completions.New(ctx(t), hi("azure/gpt-4o-mini"))
	if ae := apiError(t, err); ae.StatusCode != 401 {
		t.Errorf("status %d", ae.StatusCode)
	}
	if id.Issued() != 2 || len(up.Requests()) != 2 {
		t.Errorf("%d token requests, %d upstream attempts; want 2 and 2", id.Issued(), len(up.Requests()))
	}
	// Once Azure takes tokens again (the role was granted), calls go
	// through: the refusal did not take the provider out for good.
	up.Bearer = id.Valid
	if _, err := c.Chat.Completions.New(ctx(t), hi("azure/gpt-4o-mini")); err != nil {
		t.Errorf("after the role was granted: %v", err)
	}
}

// A wrong client secret: 502 naming Entra's answer, never the secret.
func TestEntraWrongSecret(t *testing.T) {
	const wrong = "Q~wrong-secret-value-1234"
	up, _, c := entra(t, wrong, &clock{t: time.Now()})
	_, err := c.Chat.Completions.New(ctx(t), hi("azure/gpt-4o-mini"))
	ae := apiError(t, err)
	if ae.StatusCode != 502 || ae.Code != "upstream_auth_failed" || !strings.Contains(ae.Message, "Microsoft Entra ID refused the token request: HTTP 401 invalid_client") {
		t.Errorf("%d %q %q", ae.StatusCode, ae.Code, ae.Message)
	}
	if strings.Contains(ae.RawJSON(), wrong) || strings.Contains(ae.RawJSON(), entraSecret) {
		t.Error("the secret reached the client")
	}
	if len(up.Requests()) != 0 {
		t.Error("a request went to Azure without a token")
	}
}

// The Entra client secret is a provider credential: the Bridge refuses it
// as an access key.
func TestEntraSecretIsNoAccessKey(t *testing.T) {
	p := azure.New(azure.Config{Config: endpoint.Config{Name: "azure", BaseURL: "https://r.openai.azure.com"},
		Entra: &azure.Entra{TenantID: "t", ClientID: "c", ClientSecret: entraSecret}})
	if _, err := llmbridge.New(llmbridge.WithProvider(p), llmbridge.WithAccessKeys(entraSecret)); err == nil {
		t.Error("the client secret was accepted as an access key")
	}
}
