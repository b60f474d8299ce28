package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/pricesync"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/llmbridge/llmbridge/internal/usage"
)

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRoutesFromYAMLAndKeyLists(t *testing.T) {
	p := writeConfig(t, `
providers:
  - {name: azure-eu, base_url: "http://127.0.0.1:1/v1", api_keys: [az1, az2], api_key_envs: [AZ3], models: [gpt-4o]}
routes:
  - name: smart
    strategy: weighted
    targets:
      - {model: openai/gpt-4o, weight: 3}
      - {model: azure-eu/gpt-4o}
    fallbacks: [azure-eu/gpt-4o]
    retry_on: [connect, 5xx]
`)
	c, err := loadConfig(map[string]string{"LLMBRIDGE_CONFIG": p, "OPENAI_API_KEY": "o1, o2,o3", "AZ3": "az3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 1 || c.Routes[0].Targets[1].Weight != 1 || c.Routes[0].Targets[0].Weight != 3 {
		t.Fatalf("routes %+v", c.Routes)
	}
	if got := c.Providers[0].More; strings.Join(got, ",") != "az1,az2,az3" {
		t.Errorf("keys %v", got)
	}
	b, err := llmbridge.New(c.options(slog.New(slog.NewTextHandler(io.Discard, nil)))...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	keys := map[string]int{}
	for _, h := range b.Health() {
		keys[h.Provider]++
	}
	if keys["openai"] != 3 || keys["azure-eu"] != 3 {
		t.Errorf("targets per provider %v (want one per key)", keys)
	}
}

func TestBadRoutesFailStartListingEveryProblem(t *testing.T) {
	p := writeConfig(t, `
providers:
  - {name: x, base_url: "http://127.0.0.1:1/v1", api_keys: [], models: [m]}
routes:
  - {name: a, strategy: fastest, targets: [{model: ghost/m}], fallbacks: [b]}
  - {name: b, targets: [{model: x/m, weight: 0}], fallbacks: [a]}
  - {name: x/m2, targets: [{model: x/m}]}
`)
	c, err := loadConfig(map[string]string{"LLMBRIDGE_CONFIG": p, "OPENAI_API_KEY": "o1,,o3"})
	if err == nil {
		t.Fatal("loadConfig accepted bad keys and weights")
	}
	for _, want := range []string{"api_keys/api_key_envs is an empty list", "OPENAI_API_KEY: key 2 of the comma list is empty", "weight 0 must be positive"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("loadConfig error lacks %q:\n%v", want, err)
		}
	}
	c.builtin("openai").Key = "o1"
	_, err = llmbridge.New(c.options(slog.New(slog.NewTextHandler(io.Discard, nil)))...)
	if err == nil {
		t.Fatal("New accepted bad routes")
	}
	for _, want := range []string{`strategy "fastest"`, `"ghost/m"`, "lead back", "shadows the provider model x/m2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New error lacks %q:\n%v", want, err)
		}
	}
}

// A provider's YAML health_check runs from the Bridge's start: a dead
// upstream is ejected before any request, and the check shows in Health.
func TestHealthCheckFromYAML(t *testing.T) {
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer dead.Close()
	p := writeConfig(t, `
providers:
  - {name: eu, base_url: "`+dead.URL+`/v1", api_key: k, models: [gpt-4o], health_check: {interval: 1m}}
`)
	c, err := loadConfig(map[string]string{"LLMBRIDGE_CONFIG": p})
	if err != nil {
		t.Fatal(err)
	}
	b, err := llmbridge.New(c.options(slog.New(slog.NewTextHandler(io.Discard, nil)))...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if hs := b.Health(); len(hs) == 1 && hs[0].State == llmbridge.StateOpen && strings.Contains(hs[0].CheckError, "503") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ejected by its check: %+v", b.Health())
		}
	}
}

// Synced prices sit over the built-in ones and under the YAML file's;
// without a cache (offline, first start) the built-in ones stand.
func TestSyncedPricesMerge(t *testing.T) {
	src := testupstream.NewPriceSource(t, testupstream.LiteLLMPrices, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	cache := filepath.Join(t.TempDir(), "prices.json")
	p := writeConfig(t, "prices:\n  openai/gpt-4o-mini: {input: 9, output: 9}\n")
	env := map[string]string{"LLMBRIDGE_CONFIG": p, "LLMBRIDGE_PRICES_URL": src.URL, "LLMBRIDGE_PRICES_CACHE": cache}
	c, err := loadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	if pr := c.allPrices()["openai/o3"]; pr.Source != usage.BuiltinSource {
		t.Errorf("before any sync: %+v", pr)
	}
	if err := pricesync.New(c.PriceSync, nil, slog.New(slog.DiscardHandler)).Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, err = loadConfig(env); err != nil {
		t.Fatal(err)
	}
	all := c.allPrices()
	if pr := all["openai/o3"]; pr.Source != src.URL || pr.Input != 2 {
		t.Errorf("synced o3: %+v", pr)
	}
	if pr := all["openai/gpt-4o-mini"]; pr.Input != 9 || !strings.HasPrefix(pr.Source, "LLMBRIDGE_CONFIG") {
		t.Errorf("the YAML price does not win: %+v", pr)
	}
	if pr := all["anthropic/claude-3-haiku"]; pr.Source != usage.BuiltinSource {
		t.Errorf("a built-in price the list lacks: %+v", pr)
	}
	env["LLMBRIDGE_PRICES_REFRESH"] = "1s"
	if _, err := loadConfig(env); err == nil || !strings.Contains(err.Error(), "LLMBRIDGE_PRICES_REFRESH") {
		t.Errorf("a 1s refresh: %v", err)
	}
}
