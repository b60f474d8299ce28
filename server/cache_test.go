package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestCacheConfig(t *testing.T) {
	c, err := cacheConfig(&CacheFile{TTL: time.Hour, Models: []string{"openai/*", "smart"}, MaxBytes: "256MiB", MaxValueBytes: "2MB", Scope: "shared", Nondeterministic: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxBytes != 256<<20 || c.Policy.MaxValueBytes != 2e6 || !c.Policy.Shared || !c.Policy.Nondeterministic || c.Policy.TTL != time.Hour || len(c.Policy.Models) != 2 {
		t.Errorf("config %+v", c)
	}
	if c, err := cacheConfig(nil); c != nil || err != nil {
		t.Errorf("no section: %+v %v", c, err)
	}
	if c, _ := cacheConfig(&CacheFile{}); c.MaxBytes != DefaultCacheMaxBytes || c.Policy.Shared {
		t.Errorf("defaults: %+v", c)
	}
	_, err = cacheConfig(&CacheFile{TTL: -time.Second, MaxBytes: "lots", MaxValueBytes: "0", Scope: "team", Models: []string{"a*b"}})
	for _, want := range []string{"ttl", "max_bytes", "max_value_bytes", "scope", `"a*b"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"100": 100, "1KiB": 1024, "1.5 MiB": 3 << 19, "2GB": 2e9, "256MiB": 256 << 20, "10b": 10} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "1XB", "-"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) did not fail", bad)
		}
	}
}

func TestLoadConfigReadsTheCacheSection(t *testing.T) {
	path := t.TempDir() + "/llmbridge.yaml"
	if err := os.WriteFile(path, []byte("cache:\n  ttl: 30m\n  models: [\"openai/*\", smart]\n  max_bytes: 64MiB\n  scope: shared\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(map[string]string{"LLMBRIDGE_CONFIG": path})
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Cache; c == nil || c.Policy.TTL != 30*time.Minute || c.MaxBytes != 64<<20 || !c.Policy.Shared || len(c.Policy.Models) != 2 {
		t.Errorf("cache config %+v", cfg.Cache)
	}
	if err := os.WriteFile(path, []byte("cache:\n  scope: everyone\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(map[string]string{"LLMBRIDGE_CONFIG": path}); err == nil || !strings.Contains(err.Error(), "scope") {
		t.Errorf("a bad scope: %v", err)
	}
}
