package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// TestModelFamiliesFromYAML: a generic provider claims a family only with
// model_patterns; a vendor kind claims its vendor's unless model_patterns
// is an empty list; LLMBRIDGE_MODELS_REFRESH defaults to 1h, 0 turns it
// off and a negative one is refused.
func TestModelFamiliesFromYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "providers.yaml")
	os.WriteFile(path, []byte(`providers:
  - name: vllm
    kind: openai
    base_url: http://127.0.0.1:9/v1
    model_patterns: [llama-*, gpt-oss-*]
  - name: plain
    kind: openai
    base_url: http://127.0.0.1:9/v1
  - name: claude-team
    kind: anthropic
    base_url: http://127.0.0.1:9/v1
    api_key: sk-ant-team
    model_patterns: []
`), 0o600)
	c, err := loadConfig(map[string]string{"LLMBRIDGE_CONFIG": path, "OPENAI_API_KEY": "sk-o", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
		"ANTHROPIC_API_KEY": "sk-a", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9/v1", "LLMBRIDGE_MODELS_REFRESH": "0"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ModelsRefresh != 0 {
		t.Errorf("LLMBRIDGE_MODELS_REFRESH=0 read as %v", c.ModelsRefresh)
	}
	b, err := llmbridge.New(c.options(slog.New(slog.NewTextHandler(io.Discard, nil)))...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for model, want := range map[string]string{
		"llama-4-scout":   "vllm/llama-4-scout",
		"gpt-oss-120b":    "vllm/gpt-oss-120b", // more specific than OpenAI's gpt-*
		"gpt-5.5-mini":    "openai/gpt-5.5-mini",
		"claude-opus-5-5": "anthropic/claude-opus-5-5", // claude-team claims none
		"qwen3":           "",
	} {
		got := b.Targets(model)
		if want == "" && got != nil || want != "" && (len(got) != 1 || got[0].Provider+"/"+got[0].Model != want) {
			t.Errorf("Targets(%q) = %v, want %s", model, got, want)
		}
	}

	if c, err := loadConfig(map[string]string{}); err != nil || c.ModelsRefresh != time.Hour {
		t.Errorf("default: %v %v", c.ModelsRefresh, err)
	}
	if _, err := loadConfig(map[string]string{"LLMBRIDGE_MODELS_REFRESH": "-1m"}); err == nil || !strings.Contains(err.Error(), "LLMBRIDGE_MODELS_REFRESH") {
		t.Errorf("negative refresh: %v", err)
	}
	os.WriteFile(path, []byte("providers:\n  - name: x\n    base_url: http://127.0.0.1:9/v1\n    model_patterns: [\"llama-?\"]\n"), 0o600)
	c, err = loadConfig(map[string]string{"LLMBRIDGE_CONFIG": path})
	if err == nil {
		_, err = llmbridge.New(c.options(slog.New(slog.DiscardHandler))...)
	}
	if err == nil || !strings.Contains(err.Error(), "only * is a wildcard") {
		t.Errorf("bad pattern: %v", err)
	}
}

// TestServerServesLiveModelLists: the server fetches the upstream's list
// at start by default, and a name only that list has is listed and
// served, with no model variable.
func TestServerServesLiveModelLists(t *testing.T) {
	up := testupstream.New(t, testupstream.Anthropic)
	up.SetModelList(&testupstream.ModelList{IDs: []string{"claude-opus-5-5", "claude-sonnet-4-5"}})
	in := startWith(t, []string{"ANTHROPIC_API_KEY=" + up.Key, "ANTHROPIC_BASE_URL=" + up.BaseURL(), "LLMBRIDGE_MODELS_REFRESH=1h", "LLMBRIDGE_DISCOVER_LOCAL=false"}, nil)
	defer in.stop()
	for deadline := time.Now().Add(10 * time.Second); !slices.Contains(in.models(t), "anthropic/claude-opus-5-5"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never listed: %v", in.models(t))
		}
	}
	if ids := in.models(t); countIn(ids, "anthropic/claude-sonnet-4-5") != 1 {
		t.Errorf("listed twice or never: %v", ids)
	}
	status, body := in.do(t, "POST", "/v1/messages", "", `{"model":"claude-opus-5-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`)
	if status != 200 || !strings.Contains(body, `"type":"message"`) {
		t.Errorf("Messages: %d %s", status, body)
	}
}

func countIn(list []string, s string) (n int) {
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
