package main

import (
	"log/slog"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/configfile"
	"github.com/llmbridge/llmbridge/internal/kinds"
)

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
			log.Info("provider not served: no key", "provider", b.Name, "set", b.KeyVars[0])
			continue
		}
		keys, _ := kinds.SplitKeys(b.KeyVars[0], b.Key) // checked by loadConfig
		pc := kinds.WithKeys(llmbridge.ProviderConfig{BaseURL: b.BaseURL, Models: b.Models}, keys)
		proxy := ""
		if b.UseProxy {
			proxy = c.Proxy
		}
		opts = append(opts, llmbridge.WithProvider(b.New(pc), llmbridge.ViaProxy(proxy)))
		configfile.LogRoute(log, b.Name, proxy)
	}
	return opts
}

// builtinProviders are the built-in providers the environment turns on,
// in the file's shape (for the admin API's view of the configuration).
func (c *config) builtinProviders() []configfile.Provider {
	var out []configfile.Provider
	for _, b := range c.Builtins {
		if b.Key != "" {
			keys, _ := kinds.SplitKeys(b.KeyVars[0], b.Key)
			p := configfile.Provider{Name: b.Name, Kind: b.Name, BaseURL: b.BaseURL, Models: b.Models, UseProxy: b.UseProxy, APIKeyEnv: b.KeyVars[0]}
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
			names = append(names, b.Name)
		}
	}
	return names
}
