package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/kinds"
	"github.com/llmbridge/llmbridge/internal/pgtest"
	"go.uber.org/goleak"
)

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:1219" || c.StreamIdleTimeout != 300*time.Second || c.MaxStream != 30*time.Minute || c.Retries != 2 || c.MaxBodyMB != 32 || c.KeepAlive != 15*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
	if c.builtin("gemini").BaseURL != "https://generativelanguage.googleapis.com/v1beta" || c.builtin("deepseek").BaseURL != "https://api.deepseek.com" {
		t.Errorf("base URLs: %+v", c)
	}
	// The old service's proxy defaults: only Gemini goes through the proxy.
	if c.builtin("openai").UseProxy || !c.builtin("gemini").UseProxy || c.builtin("deepseek").UseProxy || c.LogFile != "logs/requests.log" || c.LogMaxSizeMB != 10 || c.LogBackups != 5 {
		t.Errorf("proxy/log defaults: %+v", c)
	}
}

// builtin is the built-in provider name as c configures it.
func (c *config) builtin(name string) *kinds.Builtin {
	for i := range c.Builtins {
		if c.Builtins[i].Name == name {
			return &c.Builtins[i]
		}
	}
	panic("no built-in provider " + name)
}

func TestLoadConfigValues(t *testing.T) {
	c, err := loadConfig(map[string]string{
		"ACCESS_API_KEYS": " k1, k2 ,", "GEMINI_API_KEY": "g", "OPENAI_MODELS": "a,b",
		"LLMBRIDGE_ADDR": "0.0.0.0:1219", "LLMBRIDGE_STREAM_IDLE_TIMEOUT": "2s",
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.AccessKeys, "|") != "k1|k2" || c.builtin("gemini").Key != "g" || strings.Join(c.builtin("openai").Models, "|") != "a|b" || c.StreamIdleTimeout != 2*time.Second {
		t.Fatalf("%+v", c)
	}
}

func TestLoadConfigReportsAllErrors(t *testing.T) {
	_, err := loadConfig(map[string]string{"LLMBRIDGE_ADDR": ":1219", "LLMBRIDGE_MAX_BODY_MB": "0", "LLMBRIDGE_RETRIES": "-1"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"ACCESS_API_KEYS is empty", "LLMBRIDGE_MAX_BODY_MB", "LLMBRIDGE_RETRIES"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if _, err := loadConfig(map[string]string{"LLMBRIDGE_KEEPALIVE": "soon"}); err == nil {
		t.Error("bad duration accepted")
	}
}

func TestUsageConfig(t *testing.T) {
	c, err := loadConfig(map[string]string{})
	if err != nil || c.storeDSN() != "data/llmbridge.db" || c.RetentionDays != 30 || c.spoolPath() != "data/llmbridge.db-spool.jsonl" || c.AdminKey != "" {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, _ = loadConfig(map[string]string{"LLMBRIDGE_DB": "off"})
	if c.storeDSN() != "" {
		t.Errorf("off: %q", c.storeDSN())
	}
	c, _ = loadConfig(map[string]string{"LLMBRIDGE_DATABASE_URL": "postgres://u:p@db/x"})
	if c.storeDSN() != "postgres://u:p@db/x" || c.spoolPath() != filepath.Join("data", "usage-spool.jsonl") {
		t.Errorf("postgres: %q %q", c.storeDSN(), c.spoolPath())
	}
	_, err = loadConfig(map[string]string{"LLMBRIDGE_DATABASE_URL": "mysql://x", "LLMBRIDGE_RETENTION_DAYS": "-1",
		"ACCESS_API_KEYS": "same", "LLMBRIDGE_ADMIN_KEY": "same"})
	for _, want := range []string{"LLMBRIDGE_DATABASE_URL", "LLMBRIDGE_RETENTION_DAYS", "LLMBRIDGE_ADMIN_KEY must differ"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
	if _, err := loadConfig(map[string]string{"OPENAI_API_KEY": "sk-x", "LLMBRIDGE_ADMIN_KEY": "sk-x"}); err == nil {
		t.Error("a provider key as admin key accepted")
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("prices:\n  openai/gpt-4o-mini: {input: 0.15, cached_input: 0.075, output: 0.60}\n  gemini/gemini-2.5-pro:\n    input: 1.25\n    output: 10\n    long_context: {above: 200000, input: 2.5, output: 15}\n"), 0o600)
	c, err = loadConfig(map[string]string{"LLMBRIDGE_CONFIG": path})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.allPrices()["gemini/gemini-2.5-pro"]; p.LongContext == nil || p.LongContext.Above != 200000 || p.LongContext.Output != 15 || p.CachedInput != nil {
		t.Errorf("yaml long context: %+v", p)
	}
	if p := c.allPrices()["openai/gpt-4o-mini"]; *p.CachedInput != 0.075 {
		t.Errorf("%+v", p)
	}
	os.WriteFile(path, []byte("prices:\n  gpt-4o-mini: {input: -1, ouput: 2}\n"), 0o600)
	if _, err := loadConfig(map[string]string{"LLMBRIDGE_CONFIG": path}); err == nil || !strings.Contains(err.Error(), "ouput") {
		t.Errorf("a misspelt price key: %v", err)
	}
	os.WriteFile(path, []byte("prices:\n  gpt-4o-mini: {input: -1}\n"), 0o600)
	if _, err := loadConfig(map[string]string{"LLMBRIDGE_CONFIG": path}); err == nil || !strings.Contains(err.Error(), "provider/model") {
		t.Errorf("a price without provider: %v", err)
	}
}

func TestLoopbackOnlyWithoutKeys(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:1219": true, "localhost:1": true, "[::1]:1219": true, ":1219": false, "0.0.0.0:1219": false, "192.168.1.2:1219": false} {
		_, err := loadConfig(map[string]string{"LLMBRIDGE_ADDR": addr})
		if (err == nil) != ok {
			t.Errorf("%s: err=%v", addr, err)
		}
	}
}

func TestYAMLProviders(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "providers.yaml")
	os.WriteFile(path, []byte(`providers:
  - name: local
    kind: openai
    base_url: http://127.0.0.1:11434/v1
    api_key_env: LOCAL_LLM_KEY
    models: [llama3.1-8b, qwen2.5-7b]
    headers: {X-Tenant: acme}
    use_proxy: false
`), 0o600)
	c, err := loadConfig(map[string]string{"LLMBRIDGE_CONFIG": path, "LOCAL_LLM_KEY": "lk", "OPENAI_API_KEY": "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Providers) != 1 || c.Providers[0].Key != "lk" || c.Providers[0].Headers["X-Tenant"] != "acme" {
		t.Fatalf("%+v", c.Providers)
	}
	b, err := llmbridge.New(c.options(slog.New(slog.NewTextHandler(io.Discard, nil)))...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var ids []string
	for _, m := range b.Models() {
		ids = append(ids, m.ID)
	}
	if got := strings.Join(ids, ","); !strings.Contains(got, "openai/gpt-4o,") || !strings.HasSuffix(got, "local/llama3.1-8b,local/qwen2.5-7b") || strings.Contains(got, "gemini/") {
		t.Errorf("models %s (gemini has no key and must not be served)", got)
	}

	os.WriteFile(path, []byte("providers:\n  - name: x\n    kind: bedrock\n    base_ulr: typo\n"), 0o600)
	if _, err := loadConfig(map[string]string{"LLMBRIDGE_CONFIG": path}); err == nil || !strings.Contains(err.Error(), "base_ulr") {
		t.Errorf("unknown YAML key not reported: %v", err)
	}
}

// lumberjack v2.2.1's mill goroutine outlives Close (natefinch/lumberjack#56).
func TestMain(m *testing.M) {
	code := pgtest.Main(m) // stops the PostgreSQL cluster the usage tests may start
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreTopFunction("gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func TestCORSDefaults(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
		err  bool
	}{
		{map[string]string{"ACCESS_API_KEYS": "k"}, "*", false},
		{map[string]string{}, "", false},
		{map[string]string{"ACCESS_API_KEYS": "k", "LLMBRIDGE_CORS_ORIGINS": "none"}, "", false},
		{map[string]string{"LLMBRIDGE_CORS_ORIGINS": "http://localhost:3000, https://a.example"}, "http://localhost:3000|https://a.example", false},
		{map[string]string{"LLMBRIDGE_CORS_ORIGINS": "*"}, "", true},
	} {
		c, err := loadConfig(tc.env)
		if (err != nil) != tc.err {
			t.Errorf("%v: err %v", tc.env, err)
			continue
		}
		if err == nil && strings.Join(c.CORSOrigins, "|") != tc.want {
			t.Errorf("%v: %q, want %q", tc.env, c.CORSOrigins, tc.want)
		}
	}
}
