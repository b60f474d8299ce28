package main

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/configfile"
)

// providerKind is one kind of provider the server builds: its
// constructor, the YAML file's kind values that name it and, for a
// built-in provider, its name and the variables that configure it:
// the key from keyVars (the first one set), {env}_BASE_URL, {env}_MODELS
// and {env}_USE_PROXY.
type providerKind struct {
	new   func(llmbridge.ProviderConfig) llmbridge.Provider
	kinds []string // the YAML file's kind values; "" is the default kind

	name     string   // a built-in provider's name; "" for YAML kinds only
	env      string   // the prefix of its variables
	keyVars  []string // its key variables, by precedence
	flag     string   // the keys command's flag for its key
	help     string   // and the flag's help
	baseURL  string   // {env}_BASE_URL's default
	useProxy bool     // {env}_USE_PROXY's default
}

// providerKinds is every kind of provider the server knows, in the order
// the built-in ones are added to a Bridge (and their models listed).
// Validation and construction both read it; a new kind is one entry.
var providerKinds = []providerKind{
	{name: "openai", new: llmbridge.OpenAI, env: "OPENAI", keyVars: []string{"OPENAI_API_KEY"}, flag: "openai", help: "OpenAI key", baseURL: "https://api.openai.com/v1"},
	{new: llmbridge.OpenAICompatible, kinds: []string{"", "openai"}},
	{name: "gemini", new: llmbridge.Gemini, kinds: []string{"gemini"}, env: "GEMINI", keyVars: []string{"GOOGLE_API_KEY", "GEMINI_API_KEY"}, flag: "google", help: "Google (Gemini) key",
		baseURL: "https://generativelanguage.googleapis.com/v1beta", useProxy: true},
	{new: llmbridge.GeminiOpenAICompat, kinds: []string{"gemini-openai"}},
	{name: "deepseek", new: llmbridge.DeepSeek, env: "DEEPSEEK", keyVars: []string{"DEEPSEEK_API_KEY"}, flag: "deepseek", help: "DeepSeek key", baseURL: "https://api.deepseek.com"},
	{name: "anthropic", new: llmbridge.Anthropic, kinds: []string{"anthropic"}, env: "ANTHROPIC", keyVars: []string{"ANTHROPIC_API_KEY"}, flag: "anthropic", help: "Anthropic key",
		baseURL: "https://api.anthropic.com/v1"},
}

// builtinProvider is a built-in provider as the environment configures
// it.
type builtinProvider struct {
	*providerKind
	Key      string // one key or a comma list; "" when not served
	BaseURL  string
	Models   []string
	UseProxy bool
}

// readBuiltins reads the built-in providers' variables from environ.
func readBuiltins(environ map[string]string) ([]builtinProvider, error) {
	var out []builtinProvider
	var errs []error
	for i := range providerKinds {
		k := &providerKinds[i]
		if k.name == "" {
			continue
		}
		b := builtinProvider{providerKind: k, BaseURL: k.baseURL, UseProxy: k.useProxy}
		for _, v := range k.keyVars {
			if b.Key == "" {
				b.Key = environ[v]
			}
		}
		if v := environ[k.env+"_BASE_URL"]; v != "" {
			b.BaseURL = v
		}
		if v := environ[k.env+"_MODELS"]; v != "" {
			b.Models = strings.Split(v, ",")
		}
		if v := environ[k.env+"_USE_PROXY"]; v != "" {
			var err error
			if b.UseProxy, err = strconv.ParseBool(v); err != nil {
				errs = append(errs, fmt.Errorf("%s_USE_PROXY: want true or false, got %q", k.env, v))
			}
		}
		if _, err := splitKeys(k.keyVars[0], b.Key); err != nil { // comma lists (routes.go)
			errs = append(errs, err)
		}
		out = append(out, b)
	}
	return out, errors.Join(errs...)
}

// kindOf is the kind a YAML provider's kind value names; nil when none.
func kindOf(kind string) *providerKind {
	for i, k := range providerKinds {
		if slices.Contains(k.kinds, kind) {
			return &providerKinds[i]
		}
	}
	return nil
}

// kindNames lists the YAML file's kind values, for error messages.
func kindNames() string {
	var names []string
	for _, k := range providerKinds {
		for _, n := range k.kinds {
			if n != "" {
				names = append(names, n)
			}
		}
	}
	return strings.Join(names, ", ")
}

// keyVars lists the built-in providers' first key variables, for
// messages: "OPENAI_API_KEY, GOOGLE_API_KEY".
func keyVars() string {
	var vars []string
	for _, k := range providerKinds {
		if k.name != "" {
			vars = append(vars, k.keyVars[0])
		}
	}
	return strings.Join(vars, ", ")
}

// providerKeys are the built-in providers' keys as set (comma lists
// whole).
func (c *config) providerKeys() []string {
	var keys []string
	for _, b := range c.Builtins {
		keys = append(keys, b.Key)
	}
	return keys
}

// builtinOptions are the options of the built-in providers with a key;
// those without one are skipped, and said so in the log.
func (c *config) builtinOptions(log *slog.Logger) []llmbridge.Option {
	var opts []llmbridge.Option
	for _, b := range c.Builtins {
		if b.Key == "" {
			log.Info("provider not served: no key", "provider", b.name, "set", b.keyVars[0])
			continue
		}
		keys, _ := splitKeys(b.keyVars[0], b.Key) // checked by loadConfig
		pc := withKeys(llmbridge.ProviderConfig{BaseURL: b.BaseURL, Models: b.Models}, keys)
		proxy := ""
		if b.UseProxy {
			proxy = c.Proxy
		}
		opts = append(opts, llmbridge.WithProvider(b.new(pc), llmbridge.ViaProxy(proxy)))
		configfile.LogRoute(log, b.name, proxy)
	}
	return opts
}

// splitKeys reads a provider key variable: one key, or a comma list
// ("k1,k2,k3"). An empty entry is an error (a stray comma would otherwise
// hide a missing key).
func splitKeys(name, v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	for i, p := range parts {
		if parts[i] = strings.TrimSpace(p); parts[i] == "" {
			return nil, fmt.Errorf("%s: key %d of the comma list is empty", name, i+1)
		}
	}
	return parts, nil
}

// withKeys puts a key list into a provider config: the first as APIKey,
// the rest as APIKeys.
func withKeys(pc llmbridge.ProviderConfig, keys []string) llmbridge.ProviderConfig {
	if len(keys) > 0 {
		pc.APIKey, pc.APIKeys = keys[0], keys[1:]
	}
	return pc
}

// builtinProviders are the built-in providers the environment turns on,
// in the file's shape (for the admin API's view of the configuration).
func (c *config) builtinProviders() []configfile.Provider {
	var out []configfile.Provider
	for _, b := range c.Builtins {
		if b.Key != "" {
			keys, _ := splitKeys(b.keyVars[0], b.Key)
			p := configfile.Provider{Name: b.name, Kind: b.name, BaseURL: b.BaseURL, Models: b.Models, UseProxy: b.UseProxy, APIKeyEnv: b.keyVars[0]}
			if len(keys) > 0 {
				p.Key, p.More = keys[0], keys[1:]
			}
			out = append(out, p)
		}
	}
	return out
}

// builtinNames are the built-in providers the environment turns on (with
// a key): a stored provider may not take their names.
func (c *config) builtinNames() []string {
	var names []string
	for _, b := range c.Builtins {
		if b.Key != "" {
			names = append(names, b.name)
		}
	}
	return names
}
