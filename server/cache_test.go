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
