package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestLoadConfigReadsTheCacheSection(t *testing.T) {
	path := t.TempDir() + "/llmbridge.yaml"
	if err := os.WriteFile(path, []byte("cache:\n  ttl: 30m\n  models: [\"openai/*\", smart]\n  max_bytes: 64MiB\n  scope: shared\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(map[string]string{"LLMBRIDGE_CONFIG": path})
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Cache; c == nil || c.Policy.TTL != 30*time.Minute || c.MaxBytes != 64<<20 || !c.Policy.Shared || len(c.Policy.Models) != 2 {
		t.Errorf("cache config %+v", cfg.Cache)
	}
	if err := os.WriteFile(path, []byte("cache:\n  scope: everyone\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfig(map[string]string{"LLMBRIDGE_CONFIG": path}); err == nil || !strings.Contains(err.Error(), "scope") {
		t.Errorf("a bad scope: %v", err)
	}
}

// TestSmallMemoryCacheWarns: a memory cache too small to keep answers of
// max_value_bytes says so when the server starts; the default does not.
func TestSmallMemoryCacheWarns(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		warn bool
	}{{"cache:\n  max_bytes: 1MiB\n", true}, {"cache:\n  max_bytes: 1MiB\n  max_value_bytes: 32KiB\n", false}, {"cache:\n  ttl: 1h\n", false}} {
		path := t.TempDir() + "/llmbridge.yaml"
		if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		in := startServer(t, []string{"LLMBRIDGE_CONFIG=" + path, "LLMBRIDGE_DB=" + t.TempDir() + "/u.db"})
		in.stop()
		if got := strings.Contains(in.console.String(), "too small to keep answers"); got != tc.warn {
			t.Errorf("%q: warned %v, want %v\n%s", tc.yaml, got, tc.warn, in.console)
		}
	}
}
