// Package azure is the adapter for Azure OpenAI's deployment API:
// {resource}/openai/deployments/{deployment}/chat/completions and
// /embeddings, with ?api-version=. The wire format is OpenAI's, so the
// client's body passes through with only "model" (and the stream usage
// option) rewritten and the answer is relayed byte for byte: Azure's own
// members (prompt_filter_results, content_filter_results) reach the client
// unchanged. A model maps to its deployment through Config.Deployments
// (default: a deployment named like the model).
//
// Requests carry the resource's key in the api-key header, or a Microsoft
// Entra ID token from the client-credentials flow
// (golang.org/x/oauth2/clientcredentials), cached until shortly before it
// expires and fetched again when Azure refuses it (TokenRefresher).
package azure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/provider/oauthtoken"
	openaiprov "github.com/llmbridge/llmbridge/internal/provider/openai"
)

// DefaultAPIVersion is the api-version sent when none is configured: the
// newest generally available (non-preview) version of the Azure OpenAI
// data-plane inference API.
const DefaultAPIVersion = "2024-10-21"

// DefaultAuthority is the Microsoft Entra ID authority of the public cloud
// (Azure Government: https://login.microsoftonline.us).
const DefaultAuthority = "https://login.microsoftonline.com"

// Scope is the OAuth scope of Azure OpenAI (Cognitive Services) tokens.
const Scope = "https://cognitiveservices.azure.com/.default"

// Entra configures Microsoft Entra ID client credentials (an app
// registration with a client secret).
type Entra struct {
	TenantID, ClientID string
	ClientSecret       string // never logged
	Authority          string // default DefaultAuthority
}

// Config configures an Azure OpenAI resource. BaseURL is the resource's
// endpoint (https://my-resource.openai.azure.com); APIKey, when set, is
// sent as the api-key header. Set APIKey or Entra, not both.
type Config struct {
	endpoint.Config
	APIVersion  string            // default DefaultAPIVersion
	Deployments map[string]string // model → deployment; default: the model's name
	Entra       *Entra
	// TokenClient sends the Entra token requests (nil: a bounded client
	// that never follows redirects); Now is the clock of the token cache.
	TokenClient *http.Client
	Now         func() time.Time
}

// Provider talks to one Azure OpenAI resource. It is immutable (but for
// its token cache) and safe for concurrent use.
type Provider struct {
	endpoint.Endpoint
	wire        *openaiprov.Provider // decoding: the OpenAI wire format
	version     string
	deployments map[string]string
	tokens      *oauthtoken.Cache // nil with an api-key
	secret      string            // the Entra client secret, redacted from errors
	err         error
}

// New returns a Provider for cfg; configuration errors are reported by
// Validate.
func New(cfg Config) *Provider {
	e := endpoint.New(cfg.Config, func(h http.Header, key string) { h.Set("Api-Key", key) })
	p := &Provider{Endpoint: e, wire: openaiprov.New(cfg.Config), version: cfg.APIVersion, deployments: cfg.Deployments}
	if p.version == "" {
		p.version = DefaultAPIVersion
	}
	var errs []error
	if strings.TrimSpace(p.version) != p.version || strings.ContainsAny(p.version, "&#?/ ") {
		errs = append(errs, fmt.Errorf("provider %s: api_version %q is not a version such as %s", cfg.Name, p.version, DefaultAPIVersion))
	}
	switch {
	case cfg.Entra != nil:
		p.secret = cfg.Entra.ClientSecret
		var err error
		p.tokens, err = entraTokens(cfg)
		errs = append(errs, err)
		if cfg.APIKey != "" {
			errs = append(errs, fmt.Errorf("provider %s: set an API key or Entra ID credentials, not both", cfg.Name))
		}
	case cfg.APIKey == "":
		errs = append(errs, fmt.Errorf("provider %s: no credentials: set api_key_env (the resource's key) or entra", cfg.Name))
	}
	for model, dep := range cfg.Deployments {
		if model == "" || dep == "" {
			errs = append(errs, fmt.Errorf("provider %s: deployments: %q → %q: both names are required", cfg.Name, model, dep))
		}
	}
	p.err = errors.Join(errs...)
	return p
}

// entraTokens builds the client-credentials token cache of cfg.Entra.
func entraTokens(cfg Config) (*oauthtoken.Cache, error) {
	en := cfg.Entra
	authority := strings.TrimRight(en.Authority, "/")
	if authority == "" {
		authority = DefaultAuthority
	}
	var errs []error
	if en.TenantID == "" || en.ClientID == "" || en.ClientSecret == "" {
		errs = append(errs, fmt.Errorf("provider %s: entra needs tenant_id, client_id and a client secret", cfg.Name))
	}
	if u, err := url.Parse(authority); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		errs = append(errs, fmt.Errorf("provider %s: entra authority %q must be an absolute http(s) URL", cfg.Name, en.Authority))
	}
	cc := &clientcredentials.Config{ClientID: en.ClientID, ClientSecret: en.ClientSecret, Scopes: []string{Scope}, AuthStyle: oauth2.AuthStyleInParams,
		TokenURL: authority + "/" + url.PathEscape(en.TenantID) + "/oauth2/v2.0/token"}
	return oauthtoken.New("Microsoft Entra ID", cc.Token, cfg.TokenClient, cfg.Now), errors.Join(errs...)
}

// Validate reports configuration errors.
func (p *Provider) Validate() error { return errors.Join(p.Endpoint.Validate(), p.err) }

// deploymentURL is the URL of op ("chat/completions", "embeddings") of
// model's deployment.
func (p *Provider) deploymentURL(model, op string) string {
	dep, ok := p.deployments[model]
	if !ok {
		dep = model
	}
	return p.Base() + "/openai/deployments/" + url.PathEscape(dep) + "/" + op + "?api-version=" + url.QueryEscape(p.version)
}

// post builds a POST of body to u with the provider's headers and
// credentials: the api-key from the template, or an Entra token.
func (p *Provider) post(ctx context.Context, u string, body []byte, stream bool) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = p.Header()
	req.Header.Set("Accept", "application/json")
	if stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	if p.tokens != nil {
		tok, err := p.tokens.Token(ctx)
		if err != nil {
			return nil, &openai.APIError{Status: http.StatusBadGateway, Type: openai.TypeUpstream, Code: "upstream_auth_failed", Provider: p.Name(),
				Message: p.Redact(fmt.Sprintf("provider %s: no access token: %v", p.Name(), err))}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req, nil
}

// NewRawRequest builds the deployment's chat/completions request from the
// client's JSON body, replacing only "model" and, for streams, setting
// stream_options.include_usage.
func (p *Provider) NewRawRequest(ctx context.Context, body []byte, model string, stream bool) (*http.Request, error) {
	out, err := openaiprov.RewriteBody(body, model, stream)
	if err != nil {
		return nil, err
	}
	return p.post(ctx, p.deploymentURL(model, "chat/completions"), out, stream)
}

// NewRequest builds the chat/completions request from a typed request
// (in-process callers, and clients of other formats).
func (p *Provider) NewRequest(ctx context.Context, req *openai.ChatRequest) (*http.Request, error) {
	body, err := openaiprov.MarshalRequest(req)
	if err != nil {
		return nil, err
	}
	return p.post(ctx, p.deploymentURL(req.Model, "chat/completions"), body, req.Stream)
}

// NewRawEmbeddingsRequest builds the deployment's embeddings request from
// the client's OpenAI embeddings body with only "model" replaced.
func (p *Provider) NewRawEmbeddingsRequest(ctx context.Context, body []byte, model string) (*http.Request, error) {
	out, err := openaiprov.RewriteBody(body, model, false)
	if err != nil {
		return nil, err
	}
	return p.post(ctx, p.deploymentURL(model, "embeddings"), out, false)
}

// Refused is told that Azure answered req with 401. With Entra ID the
// token req carried is dropped and true asks for one more attempt (with a
// new token); a refused api-key is final.
func (p *Provider) Refused(req *http.Request) bool {
	if p.tokens == nil {
		return false
	}
	return p.tokens.Refused(strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer "))
}

// APIKey returns the resource's key or, with Entra ID, the client secret:
// the credential the Bridge must refuse as an access key and redact. It is
// never logged.
func (p *Provider) APIKey() string {
	if p.secret != "" {
		return p.secret
	}
	return p.Endpoint.APIKey()
}

// Redact removes the key and the Entra client secret from text an
// upstream echoed back.
func (p *Provider) Redact(s string) string {
	s = p.Endpoint.Redact(s)
	if len(p.secret) >= 4 {
		s = strings.ReplaceAll(s, p.secret, "[redacted]")
	}
	return s
}
