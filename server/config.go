package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/usage"
	"go.yaml.in/yaml/v3"
)

// Config is the server's configuration, read from the environment (after
// .env) and the optional LLMBRIDGE_CONFIG YAML file.
type Config struct {
	Addr       string   `env:"LLMBRIDGE_ADDR" envDefault:"127.0.0.1:1219"`
	AccessKeys []string `env:"ACCESS_API_KEYS" envSeparator:","`

	OpenAIKey    string `env:"OPENAI_API_KEY"`
	GoogleKey    string `env:"GOOGLE_API_KEY"`
	GeminiKey    string `env:"GEMINI_API_KEY"` // alias of GOOGLE_API_KEY
	DeepSeekKey  string `env:"DEEPSEEK_API_KEY"`
	AnthropicKey string `env:"ANTHROPIC_API_KEY"`

	OpenAIBaseURL    string `env:"OPENAI_BASE_URL" envDefault:"https://api.openai.com/v1"`
	GeminiBaseURL    string `env:"GEMINI_BASE_URL" envDefault:"https://generativelanguage.googleapis.com/v1beta"`
	DeepSeekBaseURL  string `env:"DEEPSEEK_BASE_URL" envDefault:"https://api.deepseek.com"`
	AnthropicBaseURL string `env:"ANTHROPIC_BASE_URL" envDefault:"https://api.anthropic.com/v1"`

	OpenAIModels    []string `env:"OPENAI_MODELS" envSeparator:","`
	GeminiModels    []string `env:"GEMINI_MODELS" envSeparator:","`
	DeepSeekModels  []string `env:"DEEPSEEK_MODELS" envSeparator:","`
	AnthropicModels []string `env:"ANTHROPIC_MODELS" envSeparator:","`

	Proxy             string `env:"LLMBRIDGE_PROXY"`
	OpenAIUseProxy    bool   `env:"OPENAI_USE_PROXY" envDefault:"false"`
	GeminiUseProxy    bool   `env:"GEMINI_USE_PROXY" envDefault:"true"`
	DeepSeekUseProxy  bool   `env:"DEEPSEEK_USE_PROXY" envDefault:"false"`
	AnthropicUseProxy bool   `env:"ANTHROPIC_USE_PROXY" envDefault:"false"`

	LogFile      string `env:"LLMBRIDGE_LOG_FILE" envDefault:"logs/requests.log"`
	LogMaxSizeMB int    `env:"LLMBRIDGE_LOG_MAX_SIZE_MB" envDefault:"10"`
	LogBackups   int    `env:"LLMBRIDGE_LOG_BACKUPS" envDefault:"5"`

	// CORSOrigins lets browser-based clients in (see llmbridge.WithCORS).
	// Unset: "*" when access keys are set, none otherwise; "none" disables.
	CORSOrigins []string `env:"LLMBRIDGE_CORS_ORIGINS" envSeparator:","`

	// DB is the SQLite usage database; "off" turns the usage store off.
	DB string `env:"LLMBRIDGE_DB" envDefault:"data/llmbridge.db"`
	// DatabaseURL, a postgres:// URL, replaces DB with a PostgreSQL
	// database several instances share.
	DatabaseURL   string `env:"LLMBRIDGE_DATABASE_URL"`
	RetentionDays int    `env:"LLMBRIDGE_RETENTION_DAYS" envDefault:"30"`
	// AdminKey opens the admin API (/admin/api/…); unset, it is off.
	AdminKey string `env:"LLMBRIDGE_ADMIN_KEY"`

	LogLevel   string `env:"LLMBRIDGE_LOG_LEVEL" envDefault:"info"`
	ConfigFile string `env:"LLMBRIDGE_CONFIG"`

	ConnectTimeout    time.Duration `env:"LLMBRIDGE_CONNECT_TIMEOUT" envDefault:"5s"`
	HeaderTimeout     time.Duration `env:"LLMBRIDGE_HEADER_TIMEOUT" envDefault:"60s"`
	StreamIdleTimeout time.Duration `env:"LLMBRIDGE_STREAM_IDLE_TIMEOUT" envDefault:"300s"`
	MaxStream         time.Duration `env:"LLMBRIDGE_MAX_STREAM" envDefault:"30m"`
	Retries           int           `env:"LLMBRIDGE_RETRIES" envDefault:"2"`
	MaxBodyMB         int           `env:"LLMBRIDGE_MAX_BODY_MB" envDefault:"32"`
	KeepAlive         time.Duration `env:"LLMBRIDGE_KEEPALIVE" envDefault:"15s"`

	// Providers are the extra providers of the YAML file.
	Providers []ProviderFile `env:"-"`
	// Prices are the YAML file's prices, over the built-in ones.
	Prices usage.Prices `env:"-"`
}

// StoreDSN is where usage is stored: the PostgreSQL URL, the SQLite path,
// or "" when the store is off.
func (c *Config) StoreDSN() string {
	switch {
	case c.DatabaseURL != "":
		return c.DatabaseURL
	case c.DB == "off" || c.DB == "":
		return ""
	}
	return c.DB
}

// SpoolPath is where unwritten usage records are saved at shutdown.
func (c *Config) SpoolPath() string {
	if c.DatabaseURL != "" || c.DB == "off" || c.DB == "" {
		return filepath.Join("data", "usage-spool.jsonl")
	}
	return c.DB + "-spool.jsonl"
}

// AllPrices are the built-in prices with the YAML file's over them.
func (c *Config) AllPrices() usage.Prices { return usage.DefaultPrices().Merge(c.Prices) }

// ProviderFile is one provider of the LLMBRIDGE_CONFIG YAML file.
type ProviderFile struct {
	Name      string            `yaml:"name"`
	Kind      string            `yaml:"kind"` // openai (default), gemini (native), gemini-openai (compat endpoint) or anthropic
	BaseURL   string            `yaml:"base_url"`
	APIKeyEnv string            `yaml:"api_key_env"`
	APIKey    string            `yaml:"api_key"`
	Models    []string          `yaml:"models"`
	Headers   map[string]string `yaml:"headers"`
	UseProxy  bool              `yaml:"use_proxy"`
	Proxy     string            `yaml:"proxy"`

	key string // resolved from APIKey or APIKeyEnv
}

type fileConfig struct {
	Providers []ProviderFile `yaml:"providers"`
	Prices    usage.Prices   `yaml:"prices"`
}

// LoadConfig reads the configuration from environ (tests pass a map; main
// passes .env overlaid with the real environment) and the YAML file it
// names. All problems are reported at once.
func LoadConfig(environ map[string]string) (*Config, error) {
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: environ}); err != nil {
		return nil, err
	}
	var errs []error
	if c.GoogleKey == "" {
		c.GoogleKey = c.GeminiKey
	}
	if c.MaxBodyMB <= 0 {
		errs = append(errs, fmt.Errorf("LLMBRIDGE_MAX_BODY_MB must be positive, got %d", c.MaxBodyMB))
	}
	if c.LogMaxSizeMB <= 0 || c.LogBackups < 0 {
		errs = append(errs, fmt.Errorf("LLMBRIDGE_LOG_MAX_SIZE_MB must be positive and LLMBRIDGE_LOG_BACKUPS not negative"))
	}
	if c.Retries < 0 {
		errs = append(errs, fmt.Errorf("LLMBRIDGE_RETRIES must not be negative, got %d", c.Retries))
	}
	keys := c.AccessKeys[:0]
	for _, k := range c.AccessKeys {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	c.AccessKeys = keys
	if _, set := environ["LLMBRIDGE_CORS_ORIGINS"]; !set && len(c.AccessKeys) > 0 {
		c.CORSOrigins = []string{"*"}
	}
	origins := c.CORSOrigins[:0]
	for _, o := range c.CORSOrigins {
		if o = strings.TrimSpace(o); o != "" && o != "none" {
			origins = append(origins, o)
		}
	}
	c.CORSOrigins = origins
	if len(c.AccessKeys) == 0 && slices.Contains(c.CORSOrigins, "*") {
		errs = append(errs, errors.New(`LLMBRIDGE_CORS_ORIGINS="*" without ACCESS_API_KEYS would let any web page use your provider keys: set access keys or name the allowed origins`))
	}
	if c.ConfigFile != "" {
		if err := c.loadFile(environ); err != nil {
			errs = append(errs, err)
		}
	}
	if c.DatabaseURL != "" && !usage.IsPostgresURL(c.DatabaseURL) {
		errs = append(errs, errors.New("LLMBRIDGE_DATABASE_URL must be a postgres:// or postgresql:// URL (for SQLite set LLMBRIDGE_DB to a file path)"))
	}
	if c.RetentionDays < 0 {
		errs = append(errs, fmt.Errorf("LLMBRIDGE_RETENTION_DAYS must not be negative (0 keeps request rows forever), got %d", c.RetentionDays))
	}
	if c.AdminKey != "" {
		for _, k := range append(slices.Clone(c.AccessKeys), c.OpenAIKey, c.GoogleKey, c.DeepSeekKey, c.AnthropicKey) {
			if k == c.AdminKey {
				errs = append(errs, errors.New("LLMBRIDGE_ADMIN_KEY must differ from every access key and provider key"))
				break
			}
		}
	}
	if len(c.AccessKeys) == 0 && !isLoopback(c.Addr) {
		errs = append(errs, fmt.Errorf("ACCESS_API_KEYS is empty: without access keys the bridge only serves on a loopback address, not %q (set ACCESS_API_KEYS, or LLMBRIDGE_ADDR=127.0.0.1:1219)", c.Addr))
	}
	return &c, errors.Join(errs...)
}

func (c *Config) loadFile(environ map[string]string) error {
	f, err := os.Open(c.ConfigFile)
	if err != nil {
		return fmt.Errorf("LLMBRIDGE_CONFIG: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var fc fileConfig
	if err := dec.Decode(&fc); err != nil {
		return fmt.Errorf("LLMBRIDGE_CONFIG %s: %w", c.ConfigFile, err)
	}
	var errs []error
	if err := fc.Prices.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("LLMBRIDGE_CONFIG %s: %w", c.ConfigFile, err))
	}
	c.Prices = fc.Prices
	for i, p := range fc.Providers {
		where := fmt.Sprintf("LLMBRIDGE_CONFIG %s: provider %d (%s)", c.ConfigFile, i+1, p.Name)
		switch p.Kind {
		case "", "openai", "gemini", "gemini-openai", "anthropic":
		default:
			errs = append(errs, fmt.Errorf("%s: kind %q is not supported (openai, gemini, gemini-openai, anthropic)", where, p.Kind))
		}
		if p.UseProxy && p.Proxy == "" && c.Proxy == "" {
			errs = append(errs, fmt.Errorf("%s: use_proxy is set but LLMBRIDGE_PROXY is empty", where))
		}
		switch {
		case p.APIKey != "" && p.APIKeyEnv != "":
			errs = append(errs, fmt.Errorf("%s: set api_key or api_key_env, not both", where))
		case p.APIKeyEnv != "":
			p.key = environ[p.APIKeyEnv]
		default:
			p.key = p.APIKey
		}
		c.Providers = append(c.Providers, p)
	}
	return errors.Join(errs...)
}

// isLoopback reports whether addr (host:port) listens on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Options turns the configuration into Bridge options. Built-in providers
// without a key are skipped (and said so in the log).
func (c *Config) Options(log *slog.Logger) []llmbridge.Option {
	opts := []llmbridge.Option{
		llmbridge.WithLogger(log),
		llmbridge.WithTimeouts(llmbridge.Timeouts{Connect: c.ConnectTimeout, Header: c.HeaderTimeout, StreamIdle: c.StreamIdleTimeout, MaxDuration: c.MaxStream}),
		llmbridge.WithMaxBodyBytes(int64(c.MaxBodyMB) << 20),
		llmbridge.WithKeepAlive(c.KeepAlive),
	}
	retry := llmbridge.DefaultRetryPolicy()
	retry.Max = c.Retries
	opts = append(opts, llmbridge.WithRetry(retry))
	if len(c.AccessKeys) > 0 {
		opts = append(opts, llmbridge.WithAccessKeys(c.AccessKeys...))
	}
	if len(c.CORSOrigins) > 0 {
		opts = append(opts, llmbridge.WithCORS(c.CORSOrigins...))
	}
	builtins := []struct {
		name, key, keyVar string
		useProxy          bool
		make              func(llmbridge.ProviderConfig) llmbridge.Provider
		cfg               llmbridge.ProviderConfig
	}{
		{"openai", c.OpenAIKey, "OPENAI_API_KEY", c.OpenAIUseProxy, llmbridge.OpenAI, llmbridge.ProviderConfig{BaseURL: c.OpenAIBaseURL, Models: c.OpenAIModels}},
		{"gemini", c.GoogleKey, "GOOGLE_API_KEY", c.GeminiUseProxy, llmbridge.Gemini, llmbridge.ProviderConfig{BaseURL: c.GeminiBaseURL, Models: c.GeminiModels}},
		{"deepseek", c.DeepSeekKey, "DEEPSEEK_API_KEY", c.DeepSeekUseProxy, llmbridge.DeepSeek, llmbridge.ProviderConfig{BaseURL: c.DeepSeekBaseURL, Models: c.DeepSeekModels}},
		{"anthropic", c.AnthropicKey, "ANTHROPIC_API_KEY", c.AnthropicUseProxy, llmbridge.Anthropic, llmbridge.ProviderConfig{BaseURL: c.AnthropicBaseURL, Models: c.AnthropicModels}},
	}
	for _, b := range builtins {
		if b.key == "" {
			log.Info("provider not served: no key", "provider", b.name, "set", b.keyVar)
			continue
		}
		b.cfg.APIKey = b.key
		proxy := ""
		if b.useProxy {
			proxy = c.Proxy
		}
		opts = append(opts, llmbridge.WithProvider(b.make(b.cfg), llmbridge.ViaProxy(proxy)))
		logRoute(log, b.name, proxy)
	}
	for _, p := range c.Providers {
		pc := llmbridge.ProviderConfig{Name: p.Name, BaseURL: p.BaseURL, APIKey: p.key, Models: p.Models, Headers: p.Headers}
		proxy := p.Proxy
		if proxy == "" && p.UseProxy {
			proxy = c.Proxy
		}
		newProvider := llmbridge.OpenAICompatible
		switch p.Kind {
		case "gemini":
			newProvider = llmbridge.Gemini
		case "gemini-openai":
			newProvider = llmbridge.GeminiOpenAICompat
		case "anthropic":
			newProvider = llmbridge.Anthropic
		}
		opts = append(opts, llmbridge.WithProvider(newProvider(pc), llmbridge.ViaProxy(proxy)))
		logRoute(log, p.Name, proxy)
	}
	return opts
}

// logRoute says how a provider is reached, naming a proxy by host only.
func logRoute(log *slog.Logger, name, proxy string) {
	if proxy == "" {
		log.Debug("provider connects directly", "provider", name)
		return
	}
	host := "(unparsable proxy URL)"
	if u, err := url.Parse(proxy); err == nil {
		host = u.Scheme + "://" + u.Host
	}
	log.Info("provider goes through proxy", "provider", name, "proxy", host)
}
