package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/alerts"
	"github.com/llmbridge/llmbridge/internal/authguard"
	"github.com/llmbridge/llmbridge/internal/configfile"
	"github.com/llmbridge/llmbridge/internal/keys"
	"github.com/llmbridge/llmbridge/internal/kinds"
	"github.com/llmbridge/llmbridge/internal/lifecycle"
	"github.com/llmbridge/llmbridge/internal/mcpgw"
	"github.com/llmbridge/llmbridge/internal/observe"
	"github.com/llmbridge/llmbridge/internal/otelenv"
	"github.com/llmbridge/llmbridge/internal/pricesync"
	"github.com/llmbridge/llmbridge/internal/sso"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// config is the server's configuration, read from the environment (after
// .env) and the optional LLMBRIDGE_CONFIG YAML file.
type config struct {
	Addr       string   `env:"LLMBRIDGE_ADDR" envDefault:"127.0.0.1:1219"`
	AccessKeys []string `env:"ACCESS_API_KEYS" envSeparator:","`

	// Builtins are the built-in providers, read from the environment by
	// the provider kinds table (internal/kinds), in its order.
	Builtins []kinds.Builtin `env:"-"`
	Proxy    string          `env:"LLMBRIDGE_PROXY"`

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
	// Alerts are the YAML file's alert rules and webhooks (internal/observe).
	Alerts alerts.Config `env:"-"`
	// Routes are the YAML file's routes (model groups, routes.go).
	Routes []llmbridge.Route `env:"-"`
	// Cache is the YAML file's cache: section (the response cache,
	// cache.go); nil when it is off.
	Cache *configfile.Cache `env:"-"`

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
	MaxConcurrent int           `env:"LLMBRIDGE_MAX_CONCURRENT" envDefault:"10000"`
	ModelsRefresh time.Duration `env:"LLMBRIDGE_MODELS_REFRESH" envDefault:"1h"` // how often the upstreams' model lists are fetched; 0: never
	// TLSCertFile and TLSKeyFile serve HTTPS (and HTTP/2); reloaded on SIGHUP.
	TLSCertFile string `env:"LLMBRIDGE_TLS_CERT_FILE"`
	TLSKeyFile  string `env:"LLMBRIDGE_TLS_KEY_FILE"`

	// Providers are the extra providers of the YAML file.
	Providers []configfile.Provider `env:"-"`
	// Prices are the YAML file's prices, over the built-in ones.
	Prices usage.Prices `env:"-"`
	// YAML health_check:s; OTEL_* (internal/otelenv); LLMBRIDGE_PRICES_* (internal/pricesync).
	Checks    []llmbridge.HealthCheck `env:"-"`
	Tracing   otelenv.Settings
	PriceSync pricesync.Settings
	SSO       sso.Config   // LLMBRIDGE_OIDC_*, LLMBRIDGE_PUBLIC_URL (internal/sso)
	MCP       mcpgw.Config `env:"-"` // the YAML file's mcp: servers (mcp.go)
	// File is the YAML file as read (nil without one); SecretKey seals
	// the stored providers' keys (internal/liveconfig).
	File      *configfile.File `env:"-"`
	SecretKey string           `env:"LLMBRIDGE_SECRET_KEY"`
}

// storeDSN is where usage is stored: the PostgreSQL URL, the SQLite path,
// or "" when the store is off.
func (c *config) storeDSN() string {
	switch {
	case c.DatabaseURL != "":
		return c.DatabaseURL
	case c.DB == "off" || c.DB == "":
		return ""
	}
	return c.DB
}

// spoolPath is where unwritten usage records are saved at shutdown.
func (c *config) spoolPath() string {
	if c.DatabaseURL != "" || c.DB == "off" || c.DB == "" {
		return filepath.Join("data", "usage-spool.jsonl")
	}
	return c.DB + "-spool.jsonl"
}

// allPrices: the built-in prices, the synced ones over them, the YAML file's over both.
func (c *config) allPrices() usage.Prices {
	return usage.DefaultPrices().Merge(c.PriceSync.Prices()).Merge(c.Prices)
}

// observeSettings are cfg's metrics, live feed and alert settings
// (internal/observe).
func (c *config) observeSettings() observe.Settings {
	return observe.Settings{MetricsToken: c.MetricsToken, MetricsAddr: c.MetricsAddr, MetricsKeyLabels: c.MetricsKeyLabels,
		AdminKey: c.AdminKey, Alerts: c.Alerts, Prices: c.allPrices(), Tracing: c.Tracing}
}

// checkObserve validates the metrics settings: the address, and a token
// that is no other key.
func (c *config) checkObserve() error {
	s := observe.Settings{MetricsToken: c.MetricsToken, MetricsAddr: c.MetricsAddr, Tracing: c.Tracing}
	return s.Check(append(append(slices.Clone(c.AccessKeys), c.providerKeys()...), c.AdminKey))
}

// loadConfig reads the configuration from environ (tests pass a map; main
// passes .env overlaid with the real environment), the YAML file it
// names and the stored configuration (store; nil: none), beneath them.
// All problems are reported at once.
func loadConfig(environ map[string]string, store ...*configfile.Layer) (*config, error) {
	var c config
	if err := env.ParseWithOptions(&c, env.Options{Environment: environ}); err != nil {
		return nil, err
	}
	c.Tracing.Environ = environ
	var err error
	c.Builtins, err = kinds.ReadBuiltins(environ) // internal/kinds
	var perr error
	c.Proxies, perr = authguard.ParseTrustedProxies(c.TrustedProxies)
	errs := []error{err, c.checkLimits(), perr, c.PriceSync.Load(), c.SSO.Check()}
	c.AccessKeys = configfile.Trimmed(c.AccessKeys)
	errs = append(errs, c.checkCORS(environ))
	if c.ConfigFile != "" {
		errs = append(errs, c.loadFile(environ))
	}
	if len(store) > 0 && store[0] != nil {
		errs = append(errs, c.addStore(store[0], environ))
	}
	errs = append(errs, c.checkStore(), c.checkLocal(), c.checkObserve(), c.checkAdminKey(), c.checkListener())
	return &c, errors.Join(errs...)
}

// checkLimits validates the sizes, counts and timeouts.
func (c *config) checkLimits() error {
	var errs []error
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
	if c.ShutdownTimeout <= 0 || c.WriteTimeout < 0 || c.NonStreamTimeout < 0 || c.BodyTimeout < 0 || c.ModelsRefresh < 0 {
		errs = append(errs, errors.New("LLMBRIDGE_SHUTDOWN_TIMEOUT must be positive, LLMBRIDGE_WRITE_TIMEOUT, LLMBRIDGE_NONSTREAM_TIMEOUT, LLMBRIDGE_BODY_TIMEOUT and LLMBRIDGE_MODELS_REFRESH not negative"))
	}
	return errors.Join(errs...)
}

// checkCORS settles CORSOrigins: "*" by default when access keys are
// set, none without; "none" is none.
func (c *config) checkCORS(environ map[string]string) error {
	if _, set := environ["LLMBRIDGE_CORS_ORIGINS"]; !set && len(c.AccessKeys) > 0 {
		c.CORSOrigins = []string{"*"}
	}
	c.CORSOrigins = slices.DeleteFunc(configfile.Trimmed(c.CORSOrigins), func(o string) bool { return o == "none" })
	if len(c.AccessKeys) == 0 && slices.Contains(c.CORSOrigins, "*") {
		return errors.New(`LLMBRIDGE_CORS_ORIGINS="*" without ACCESS_API_KEYS would let any web page use your provider keys: set access keys or name the allowed origins`)
	}
	return nil
}

// checkStore validates the usage store's settings.
func (c *config) checkStore() error {
	var errs []error
	if c.DatabaseURL != "" && !usage.IsPostgresURL(c.DatabaseURL) {
		errs = append(errs, errors.New("LLMBRIDGE_DATABASE_URL must be a postgres:// or postgresql:// URL (for SQLite set LLMBRIDGE_DB to a file path)"))
	}
	if c.RetentionDays < 0 {
		errs = append(errs, fmt.Errorf("LLMBRIDGE_RETENTION_DAYS must not be negative (0 keeps request rows forever), got %d", c.RetentionDays))
	}
	return errors.Join(errs...)
}

// checkAdminKey validates the admin key: long enough, and no other key.
func (c *config) checkAdminKey() error {
	if c.AdminKey == "" && c.SSO.On() && !lifecycle.IsLoopback(c.Addr) {
		return errors.New("LLMBRIDGE_OIDC_ISSUER needs LLMBRIDGE_ADMIN_KEY: the admin UI is off without it")
	}
	if c.AdminKey == "" {
		return nil
	}
	var errs []error
	if len(c.AdminKey) < minAdminKey {
		errs = append(errs, fmt.Errorf("LLMBRIDGE_ADMIN_KEY must be at least %d characters (it opens the admin API and UI; try: openssl rand -hex 24)", minAdminKey))
	}
	if slices.Contains(append(slices.Clone(c.AccessKeys), c.providerKeys()...), c.AdminKey) {
		errs = append(errs, errors.New("LLMBRIDGE_ADMIN_KEY must differ from every access key and provider key"))
	}
	return errors.Join(errs...)
}

// checkListener validates the TLS files and refuses to serve beyond
// loopback without access keys.
func (c *config) checkListener() error {
	var errs []error
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("LLMBRIDGE_TLS_CERT_FILE and LLMBRIDGE_TLS_KEY_FILE go together: set both or neither"))
	}
	if len(c.AccessKeys) == 0 && !lifecycle.IsLoopback(c.Addr) {
		errs = append(errs, fmt.Errorf("ACCESS_API_KEYS is empty: without access keys the bridge only serves on a loopback address, not %q (set ACCESS_API_KEYS, or LLMBRIDGE_ADDR=127.0.0.1:1219)", c.Addr))
	}
	return errors.Join(errs...)
}

// loadFile reads the LLMBRIDGE_CONFIG file (internal/configfile) and
// checks what needs the rest of the configuration: the providers' kinds
// (internal/kinds) and proxies.
func (c *config) loadFile(environ map[string]string) error {
	f, err := configfile.Read(c.ConfigFile, environ)
	if f == nil {
		return err
	}
	c.File = f
	c.Providers, c.Prices, c.Alerts, c.KeyPolicies, c.Routes, c.Cache, c.Checks, c.MCP = f.Providers, f.Prices, f.Alerts, f.KeyPolicies, f.Routes, f.Cache, f.HealthChecks, f.MCP
	return errors.Join(err, c.checkProviders(f))
}

// checkProviders checks what f's providers need the rest of the
// configuration for: their kinds (internal/kinds) and proxies.
func (c *config) checkProviders(f *configfile.File) error {
	var errs []error
	for i, p := range f.Providers {
		if kinds.Of(p.Kind) == nil {
			errs = append(errs, fmt.Errorf("%s: kind %q is not supported (%s)", f.Where(i), p.Kind, kinds.Names()))
		}
		if p.UseProxy && p.Proxy == "" && c.Proxy == "" {
			errs = append(errs, fmt.Errorf("%s: use_proxy is set but LLMBRIDGE_PROXY is empty", f.Where(i)))
		}
	}
	return errors.Join(errs...)
}

// addStore puts the stored configuration (internal/liveconfig) beneath
// the environment's and the file's, checked by the file's code: an item
// they define hides the stored one of the same name.
func (c *config) addStore(l *configfile.Layer, environ map[string]string) error {
	f, err := configfile.CheckLayer(l, environ)
	if f == nil {
		return err
	}
	top := &configfile.File{Providers: c.Providers, Prices: c.Prices, Alerts: c.Alerts, Routes: c.Routes, Cache: c.Cache}
	m := configfile.Under(top, f, c.builtinNames())
	c.Providers, c.Prices, c.Alerts, c.Routes, c.Cache = m.Providers, m.Prices, m.Alerts, m.Routes, m.Cache
	errs := []error{err, c.checkProviders(f)}
	if len(f.Alerts.Rules) > 0 { // with the file's webhooks
		errs = append(errs, c.Alerts.Validate())
	}
	return errors.Join(errs...)
}

// minAdminKey is the shortest admin key accepted: it guards every key,
// price and provider, so it must not be guessable even at the throttled
// rate of failed sign-ins.
const minAdminKey = 16

// options turns the configuration into Bridge options. Built-in providers
// without a key are skipped (and said so in the log).
func (c *config) options(log *slog.Logger) []llmbridge.Option {
	opts := []llmbridge.Option{
		llmbridge.WithLogger(log),
		llmbridge.WithTimeouts(llmbridge.Timeouts{Connect: c.ConnectTimeout, Header: c.HeaderTimeout, NonStream: c.NonStreamTimeout,
			StreamIdle: c.StreamIdleTimeout, MaxDuration: c.MaxStream, Write: c.WriteTimeout, Body: c.BodyTimeout}),
		llmbridge.WithMaxConcurrent(c.MaxConcurrent),
		llmbridge.WithMaxBodyBytes(int64(c.MaxBodyMB) << 20),
		llmbridge.WithKeepAlive(c.KeepAlive), llmbridge.WithModelRefresh(c.ModelsRefresh),
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
	opts = append(opts, c.builtinOptions(log)...) // builtins.go
	for _, p := range c.Providers {
		pc := llmbridge.ProviderConfig{Name: p.Name, BaseURL: p.BaseURL, APIKey: p.Key, APIKeys: p.More, Models: p.Models, Headers: p.Headers, Region: p.Region, ModelPatterns: p.ModelPatterns}
		proxy := p.Proxy
		if proxy == "" && p.UseProxy {
			proxy = c.Proxy
		}
		opts = append(opts, llmbridge.WithProvider(kinds.Of(p.Kind).Build(p, pc), llmbridge.ViaProxy(proxy)))
		configfile.LogRoute(log, p.Name, proxy)
	}
	for _, r := range c.Routes {
		opts = append(opts, llmbridge.WithRoute(r))
	}
	return append(opts, llmbridge.WithHealthCheck(c.Checks...))
}
