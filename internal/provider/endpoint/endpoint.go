// Package endpoint holds what every provider adapter shares about its
// upstream: the configuration, its validation, the header template every
// request starts from, redaction of the key from upstream text, and the
// end of a stream's body: read to its end after the last event, so the
// connection is kept (EndBody, FinishBody, Link).
package endpoint

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Config describes one upstream. The root package's ProviderConfig has the
// same fields.
type Config struct {
	Name    string            // routing prefix, e.g. "openai"
	BaseURL string            // API root
	APIKey  string            // sent upstream by the adapter's auth scheme, never logged
	Models  []string          // listed by /v1/models and used for bare names
	Headers map[string]string // sent on every upstream request
	// Patterns are the model names the upstream serves ("claude-*"): a
	// bare name no list names goes to the provider whose family matches
	// (internal/models). The root constructors fill in the vendor's.
	Patterns []string
}

// Endpoint is a validated Config. Adapters embed it to get Name, Models,
// Validate and APIKey. It is immutable and safe for concurrent use.
type Endpoint struct {
	name, base, key string
	models          []string
	patterns        []string
	header          http.Header
	err             error
}

// New validates cfg (errors are kept for Validate, so callers can collect
// them all) and builds the header template: JSON content type, the
// configured headers, then auth(header, key) when there is a key.
func New(cfg Config, auth func(h http.Header, key string)) Endpoint {
	e := Endpoint{name: cfg.Name, base: strings.TrimRight(cfg.BaseURL, "/"), key: cfg.APIKey, models: cfg.Models, patterns: cfg.Patterns, header: http.Header{}}
	var errs []error
	if cfg.Name == "" || strings.ContainsAny(cfg.Name, "/ \t") {
		errs = append(errs, fmt.Errorf("provider name %q must be non-empty without slashes or spaces", cfg.Name))
	}
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("provider %s: base URL %q must be an absolute http(s) URL", cfg.Name, cfg.BaseURL))
	}
	for k, v := range cfg.Headers {
		e.header.Set(k, v)
	}
	e.header.Set("Content-Type", "application/json")
	if cfg.APIKey != "" && auth != nil {
		auth(e.header, cfg.APIKey)
	}
	e.err = errors.Join(errs...)
	return e
}

// Name returns the routing prefix.
func (e *Endpoint) Name() string { return e.name }

// Models returns the configured model names.
func (e *Endpoint) Models() []string { return e.models }

// ModelPatterns returns the configured model name patterns (the
// provider's family).
func (e *Endpoint) ModelPatterns() []string { return e.patterns }

// Validate reports configuration errors.
func (e *Endpoint) Validate() error { return e.err }

// APIKey returns the provider key, so the bridge can refuse it as an access
// key. It is never logged.
func (e *Endpoint) APIKey() string { return e.key }

// Base returns the base URL without a trailing slash.
func (e *Endpoint) Base() string { return e.base }

// Header returns a copy of the header template for one request.
func (e *Endpoint) Header() http.Header { return e.header.Clone() }

// Redact removes the key from text an upstream echoed back.
func (e *Endpoint) Redact(s string) string {
	if len(e.key) < 4 {
		return s
	}
	return strings.ReplaceAll(s, e.key, "[redacted]")
}

// NewGet builds a GET request of u with the header template (without its
// Content-Type: a GET has no body), accepting JSON: the model list
// requests.
func (e *Endpoint) NewGet(ctx context.Context, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header = e.Header()
	req.Header.Del("Content-Type")
	req.Header.Set("Accept", "application/json")
	return req, nil
}
