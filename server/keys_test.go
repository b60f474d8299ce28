package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// keys create and keys update warn, on stderr, about the models a
// budgeted key's patterns cover that have no price, from the models the
// configured server would serve (OPENAI_MODELS here) and the prices in
// its YAML file; requests to them are refused under the budget.
func TestKeysCommandWarnsAboutUnpricedModels(t *testing.T) {
	dir := t.TempDir()
	environ := []string{"LLMBRIDGE_DB=" + filepath.Join(dir, "u.db"), "OPENAI_API_KEY=sk-test", "OPENAI_MODELS=gpt-4o,o1-pro,o3-pro,gpt-4.5-preview",
		"LLMBRIDGE_DEMO=false", "LLMBRIDGE_DISCOVER_LOCAL=false"}
	keysCmd := func(args ...string) (stdout, stderr string) {
		t.Helper()
		var out, errs strings.Builder
		o := runOptions{envFile: filepath.Join(dir, ".env"), environ: environ, stdout: &out, stderr: &errs}
		if err := run(context.Background(), withArgs(o, append([]string{"keys"}, args...)...)); err != nil {
			t.Fatalf("keys %q: %v", args, err)
		}
		return out.String(), errs.String()
	}
	out, errs := keysCmd("create", "--name", "p", "--models", "openai/*", "--daily-budget-usd", "5")
	if !strings.Contains(errs, "warning: models[0] \"openai/*\" covers models without a price (openai/gpt-4.5-preview, openai/o1-pro, openai/o3-pro)") ||
		strings.Contains(errs, "openai/gpt-4o,") || strings.Contains(errs, "sk-lb-") || strings.Contains(errs, "sk-test") {
		t.Errorf("create stderr %q", errs)
	}
	id := regexp.MustCompile(`vk_[0-9a-f]{16}`).FindString(out)
	if _, errs := keysCmd("update", "--models", "openai/gpt-4o", id); errs != "" {
		t.Errorf("update to a priced model: stderr %q", errs)
	}
	if _, errs := keysCmd("update", "--models", "openai/o*", id); !strings.Contains(errs, "(openai/o1-pro, openai/o3-pro)") {
		t.Errorf("update stderr %q", errs)
	}
	if _, errs := keysCmd("create", "--name", "free", "--models", "openai/*"); errs != "" {
		t.Errorf("without a budget: stderr %q", errs)
	}
	prices := filepath.Join(dir, "prices.yaml")
	if err := os.WriteFile(prices, []byte("prices:\n  openai/o1-pro: {input: 150, output: 600}\n  openai/o3-pro: {input: 20, output: 80}\n"+
		"  openai/gpt-4.5-preview: {input: 75, output: 150}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	environ = append(environ, "LLMBRIDGE_CONFIG="+prices)
	if _, errs := keysCmd("create", "--name", "q", "--models", "openai/*", "--monthly-budget-usd", "5"); errs != "" {
		t.Errorf("every model priced: stderr %q", errs)
	}
}
