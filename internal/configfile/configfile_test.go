package configfile

import (
	"os"
	"path/filepath"
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

// Read reports every problem of a file at once, each naming the file,
// and resolves the providers' key variables.
func TestRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(`providers:
  - {name: a, api_key: k, api_key_env: K}
  - {name: b, api_key_env: K, api_keys: [k1], api_key_envs: [K2, MISSING]}
  - {name: c, api_keys: []}
routes:
  - {name: r, targets: [{model: a/m, weight: 0}]}
keys:
  - {rpm: 1}
cache: {scope: team}
`), 0o600)
	f, err := Read(path, map[string]string{"K": "from-env", "K2": "k2"})
	for _, want := range []string{"provider 1 (a): set api_key or api_key_env, not both", "provider 2 (b): key 3 of api_keys/api_key_envs is empty",
		"provider 3 (c): api_keys/api_key_envs is an empty list", "route 1 (r) target 1 (a/m): weight 0 must be positive", "key_id is required", "scope"} {
		if err == nil || !strings.Contains(err.Error(), "LLMBRIDGE_CONFIG "+path) || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if f == nil || f.Providers[1].Key != "from-env" || strings.Join(f.Providers[1].More, ",") != "k1,k2," {
		t.Fatalf("%+v", f)
	}
	if _, err := Read(path+".missing", nil); err == nil || !strings.HasPrefix(err.Error(), "LLMBRIDGE_CONFIG: ") {
		t.Errorf("a missing file: %v", err)
	}
	os.WriteFile(path, []byte("providers:\n  - {name: x, base_ulr: typo}\n"), 0o600)
	if f, err := Read(path, nil); f != nil || err == nil || !strings.Contains(err.Error(), "base_ulr") {
		t.Errorf("an unknown field: %v", err)
	}
}
