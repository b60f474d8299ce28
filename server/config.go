package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/alerts"
	"github.com/llmbridge/llmbridge/internal/keys"
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
	// RedisURL shares the keys' limits between replicas (limits.go);
	// ExpectedReplicas divides each limit while Redis is unreachable.
	RedisURL         string `env:"LLMBRIDGE_REDIS_URL"`
	ExpectedReplicas int    `env:"LLMBRIDGE_EXPECTED_REPLICAS" envDefault:"1"`
	// KeyPolicies are the YAML file's keys: models and limits of access
	// keys, by key_id.
	KeyPolicies map[string]keys.Policy `env:"-"`

	// MetricsToken guards /metrics (Bearer); unset, it is served to
	// loopback clients only. MetricsAddr serves it on a listener of its
	// own instead of the main one. MetricsKeyLabels adds per-key series.
	MetricsToken     string `env:"LLMBRIDGE_METRICS_TOKEN"`
	MetricsAddr      string `env:"LLMBRIDGE_METRICS_ADDR"`
	MetricsKeyLabels bool   `env:"LLMBRIDGE_METRICS_KEY_LABELS"`
	// Alerts are the YAML file's alert rules and webhooks (observe.go).
	Alerts alerts.Config `env:"-"`
	// Routes are the YAML file's routes (model groups, routes.go).
	Routes []llmbridge.Route `env:"-"`
	// Cache is the YAML file's cache: section (the response cache,
	// cache.go); nil when it is off.
	Cache *CacheConfig `env:"-"`

	// Demo turns the demo provider on (true) or off (false); unset, it is
	// on when no provider is configured (discover.go).
	Demo      *bool         `env:"LLMBRIDGE_DEMO"`
	DemoDelay time.Duration `env:"LLMBRIDGE_DEMO_DELAY" envDefault:"40ms"`
	// DiscoverLocal probes local model servers at start (OllamaBaseURL,
	// else Ollama's, LM Studio's, vLLM's and llama.cpp's usual addresses).
	DiscoverLocal bool   `env:"LLMBRIDGE_DISCOVER_LOCAL" envDefault:"true"`
	OllamaBaseURL string `env:"OLLAMA_BASE_URL"`

	LogLevel   string `env:"LLMBRIDGE_LOG_LEVEL" envDefault:"info"`
	ConfigFile string `env:"LLMBRIDGE_CONFIG"`

	ConnectTimeout    time.Duration `env:"LLMBRIDGE_CONNECT_TIMEOUT" envDefault:"5s"`
	HeaderTimeout     time.Duration `env:"LLMBRIDGE_HEADER_TIMEOUT" envDefault:"60s"`
	StreamIdleTimeout time.Duration `env:"LLMBRIDGE_STREAM_IDLE_TIMEOUT" envDefault:"300s"`
	MaxStream         time.Duration `env:"LLMBRIDGE_MAX_STREAM" envDefault:"30m"`
	Retries           int           `env:"LLMBRIDGE_RETRIES" envDefault:"2"`
	MaxBodyMB         int           `env:"LLMBRIDGE_MAX_BODY_MB" envDefault:"32"`
	KeepAlive         time.Duration `env:"LLMBRIDGE_KEEPALIVE" envDefault:"15s"`
	// NonStreamTimeout bounds the wait for a non-streamed answer (which
	// arrives whole, minutes later for reasoning models).
	NonStreamTimeout time.Duration `env:"LLMBRIDGE_NONSTREAM_TIMEOUT" envDefault:"10m"`
	// WriteTimeout ends a request whose client stops reading.
	WriteTimeout time.Duration `env:"LLMBRIDGE_WRITE_TIMEOUT" envDefault:"30s"`
	// BodyTimeout bounds reading a request's body once its key was checked
	// (408 past it).
	BodyTimeout time.Duration `env:"LLMBRIDGE_BODY_TIMEOUT" envDefault:"30s"`
	// TrustedProxies are the reverse proxies (IP addresses or CIDR
	// prefixes) whose X-Forwarded-For names the client, for counting
	// failed keys per client rather than per proxy.
	TrustedProxies []string `env:"LLMBRIDGE_TRUSTED_PROXIES" envSeparator:","`
	// Proxies is TrustedProxies parsed.
	Proxies []netip.Prefix `env:"-"`
	// ShutdownTimeout is how long SIGTERM waits for requests in flight
	// before ending them with an error event.
	ShutdownTimeout time.Duration `env:"LLMBRIDGE_SHUTDOWN_TIMEOUT" envDefault:"30s"`
	// MaxConcurrent bounds model calls in progress (503 above it).
	MaxConcurrent int `env:"LLMBRIDGE_MAX_CONCURRENT" envDefault:"10000"`
	// TLSCertFile and TLSKeyFile serve HTTPS (and HTTP/2); reloaded on SIGHUP.
	TLSCertFile string `env:"LLMBRIDGE_TLS_CERT_FILE"`
	TLSKeyFile  string `env:"LLMBRIDGE_TLS_KEY_FILE"`

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
	Name      string `yaml:"name"`
	Kind      string `yaml:"kind"` // openai (default), gemini (native), gemini-openai (compat endpoint) or anthropic
	BaseURL   string `yaml:"base_url"`
	APIKeyEnv string `yaml:"api_key_env"`
	APIKey    string `yaml:"api_key"`
	// APIKeys and APIKeyEnvs give several keys (routes.go); with
	// api_key/api_key_env they add to the list.
	APIKeys    []string          `yaml:"api_keys"`
	APIKeyEnvs []string          `yaml:"api_key_envs"`
	Models     []string          `yaml:"models"`
	Headers    map[string]string `yaml:"headers"`
	UseProxy   bool              `yaml:"use_proxy"`
	Proxy      string            `yaml:"proxy"`

	key  string   // resolved from APIKey or APIKeyEnv
	more []string // resolved from APIKeys and APIKeyEnvs
}

type fileConfig struct {
	Providers []ProviderFile `yaml:"providers"`
	Prices    usage.Prices   `yaml:"prices"`
	Alerts    alerts.Config  `yaml:"alerts"`
	Keys      []KeyFile      `yaml:"keys"`
	Routes    []RouteFile    `yaml:"routes"`
	Cache     *CacheFile     `yaml:"cache"`
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
	if c.MaxConcurrent < 0 {
		errs = append(errs, fmt.Errorf("LLMBRIDGE_MAX_CONCURRENT must not be negative (0 = unbounded), got %d", c.MaxConcurrent))
	}
	if c.ShutdownTimeout <= 0 || c.WriteTimeout < 0 || c.NonStreamTimeout < 0 || c.BodyTimeout < 0 {
		errs = append(errs, errors.New("LLMBRIDGE_SHUTDOWN_TIMEOUT must be positive, LLMBRIDGE_WRITE_TIMEOUT, LLMBRIDGE_NONSTREAM_TIMEOUT and LLMBRIDGE_BODY_TIMEOUT not negative"))
	}
	for _, s := range c.TrustedProxies {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("LLMBRIDGE_TRUSTED_PROXIES: %q is neither an IP address nor a CIDR prefix", s))
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		c.Proxies = append(c.Proxies, p.Masked())
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("LLMBRIDGE_TLS_CERT_FILE and LLMBRIDGE_TLS_KEY_FILE go together: set both or neither"))
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
	for _, v := range [][2]string{{"OPENAI_API_KEY", c.OpenAIKey}, {"GOOGLE_API_KEY", c.GoogleKey}, {"DEEPSEEK_API_KEY", c.DeepSeekKey}, {"ANTHROPIC_API_KEY", c.AnthropicKey}} {
		if _, err := splitKeys(v[0], v[1]); err != nil { // comma lists (routes.go)
			errs = append(errs, err)
		}
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
	if err := c.checkLocal(); err != nil {
		errs = append(errs, err)
	}
	if err := c.checkObserve(); err != nil {
		errs = append(errs, err)
	}
	if c.AdminKey != "" && len(c.AdminKey) < minAdminKey {
		errs = append(errs, fmt.Errorf("LLMBRIDGE_ADMIN_KEY must be at least %d characters (it opens the admin API and UI; try: openssl rand -hex 24)", minAdminKey))
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
	c.Alerts = fc.Alerts
	if c.Routes, err = routes(fc.Routes, "LLMBRIDGE_CONFIG "+c.ConfigFile); err != nil {
		errs = append(errs, err)
	}
	if c.Cache, err = cacheConfig(fc.Cache); err != nil {
		errs = append(errs, fmt.Errorf("LLMBRIDGE_CONFIG %s: %w", c.ConfigFile, err))
	}
	if c.KeyPolicies, err = keyPolicies(fc.Keys); err != nil {
		errs = append(errs, fmt.Errorf("LLMBRIDGE_CONFIG %s: %w", c.ConfigFile, err))
	}
	if err := fc.Alerts.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("LLMBRIDGE_CONFIG %s: %w", c.ConfigFile, err))
	}
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
		if (p.APIKeys != nil || p.APIKeyEnvs != nil) && len(p.APIKeys)+len(p.APIKeyEnvs) == 0 {
			errs = append(errs, fmt.Errorf("%s: api_keys/api_key_envs is an empty list", where))
		}
		p.more = append([]string(nil), p.APIKeys...)
		for _, e := range p.APIKeyEnvs {
			p.more = append(p.more, environ[e])
		}
		for j, k := range p.more {
			if k == "" {
				errs = append(errs, fmt.Errorf("%s: key %d of api_keys/api_key_envs is empty", where, j+1))
			}
		}
		c.Providers = append(c.Providers, p)
	}
	return errors.Join(errs...)
}

// minAdminKey is the shortest admin key accepted: it guards every key,
// price and provider, so it must not be guessable even at the throttled
// rate of failed sign-ins.
const minAdminKey = 16

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
		llmbridge.WithTimeouts(llmbridge.Timeouts{Connect: c.ConnectTimeout, Header: c.HeaderTimeout, NonStream: c.NonStreamTimeout,
			StreamIdle: c.StreamIdleTimeout, MaxDuration: c.MaxStream, Write: c.WriteTimeout, Body: c.BodyTimeout}),
		llmbridge.WithMaxConcurrent(c.MaxConcurrent),
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
		keys, _ := splitKeys(b.keyVar, b.key) // checked by LoadConfig
		b.cfg = withKeys(b.cfg, keys)
		proxy := ""
		if b.useProxy {
			proxy = c.Proxy
		}
		opts = append(opts, llmbridge.WithProvider(b.make(b.cfg), llmbridge.ViaProxy(proxy)))
		logRoute(log, b.name, proxy)
	}
	for _, p := range c.Providers {
		pc := llmbridge.ProviderConfig{Name: p.Name, BaseURL: p.BaseURL, APIKey: p.key, APIKeys: p.more, Models: p.Models, Headers: p.Headers}
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
	for _, r := range c.Routes {
		opts = append(opts, llmbridge.WithRoute(r))
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
