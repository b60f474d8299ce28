// Package configfile reads the optional LLMBRIDGE_CONFIG YAML file — extra
// providers, prices, alerts, access keys' limits, routes, the response
// cache and the MCP gateway's servers — and checks what the file alone can tell, reporting every
// problem at once. The server checks the rest (provider kinds, proxies;
// llmbridge.New the routes' names) and builds from it.
package configfile

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/alerts"
	"github.com/llmbridge/llmbridge/internal/keys"
	"github.com/llmbridge/llmbridge/internal/mcpgw"
	"github.com/llmbridge/llmbridge/internal/usage"
	"go.yaml.in/yaml/v3"
)

// File is a read and checked configuration file.
type File struct {
	Path        string
	Providers   []Provider
	Prices      usage.Prices
	Alerts      alerts.Config
	KeyPolicies map[string]keys.Policy // the keys: section, by key_id
	Routes      []llmbridge.Route
	Cache       *Cache       // nil when the cache is off
	MCP         mcpgw.Config // the mcp: section (resolved); no servers: /mcp is off
	// HealthChecks are the providers' and route targets' health_check:s.
	HealthChecks []llmbridge.HealthCheck

	label string // names the source in messages: "LLMBRIDGE_CONFIG <path>"
}

// schema is the file as written.
type schema struct {
	Providers []Provider    `yaml:"providers"`
	Prices    usage.Prices  `yaml:"prices"`
	Alerts    alerts.Config `yaml:"alerts"`
	Keys      []KeyFile     `yaml:"keys"`
	Routes    []RouteFile   `yaml:"routes"`
	Cache     *CacheFile    `yaml:"cache"`
	MCP       mcpgw.Config  `yaml:"mcp"`
}

// Read reads the file at path, resolving the providers' key variables
// (api_key_env, api_key_envs) in environ. Unknown fields are errors. On
// an error about the content the File is returned too, as far as it
// could be read; every message names the file.
func Read(path string, environ map[string]string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("LLMBRIDGE_CONFIG: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var s schema
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("LLMBRIDGE_CONFIG %s: %w", path, err)
	}
	return s.check("LLMBRIDGE_CONFIG "+path, path, environ)
}

// check turns the schema into a File, reporting every problem; label
// starts every message.
func (s *schema) check(label, path string, environ map[string]string) (*File, error) {
	var errs []error
	in := func(err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", label, err))
		}
	}
	f := &File{Path: path, Prices: s.Prices.MarkSource(label, time.Time{}), Alerts: s.Alerts, MCP: s.MCP, label: label}
	in(f.MCP.Resolve(environ))
	in(s.Prices.Validate())
	var err error
	if f.Routes, err = routes(s.Routes, label); err != nil {
		errs = append(errs, err)
	}
	f.Cache, err = cacheConfig(s.Cache)
	in(err)
	f.HealthChecks, err = s.healthChecks("LLMBRIDGE_CONFIG " + path)
	errs = append(errs, err)
	f.KeyPolicies, err = keyPolicies(s.Keys)
	in(err)
	in(s.Alerts.Validate())
	f.Providers = s.Providers
	for i := range f.Providers {
		errs = append(errs, f.Providers[i].resolve(f.Where(i), environ), f.Providers[i].resolveCloud(f.Where(i), environ))
	}
	return f, errors.Join(errs...)
}

// Where names provider i of the file in messages.
func (f *File) Where(i int) string {
	return fmt.Sprintf("%s: provider %d (%s)", f.label, i+1, f.Providers[i].Name)
}
