// Package vertex is the adapter for Google Vertex AI, which serves models
// of two wire families behind one project and location:
//
//   - Gemini models through publishers/google/models/{m}:generateContent
//     and :streamGenerateContent?alt=sse, translated by the Gemini adapter
//     (internal/provider/gemini; thought signatures travel as there);
//   - Claude models (names starting "claude-", usually with "@version")
//     through publishers/anthropic/models/{m}:rawPredict and
//     :streamRawPredict, translated by the Anthropic adapter, or passed
//     through from Messages API clients: the body carries
//     "anthropic_version":"vertex-2023-10-16" and no "model" (the model is
//     in the path).
//
// ForModel gives the Bridge the family a model belongs to, whose wire
// interfaces decide what passes through. Requests carry an OAuth access
// token from a service-account key file or Application Default Credentials
// (golang.org/x/oauth2/google), cached until shortly before it expires and
// fetched again when Vertex refuses it.
package vertex

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/provider/oauthtoken"
)

// Scope is the OAuth scope of the tokens (Vertex AI accepts
// cloud-platform).
const Scope = "https://www.googleapis.com/auth/cloud-platform"

// Config configures one Vertex AI project and location. BaseURL is
// optional (default BaseURL(Location)); APIKey is not used. Credentials:
// TokenSource if set, else the service-account key file CredentialsFile,
// else Application Default Credentials.
type Config struct {
	endpoint.Config
	Project, Location string
	CredentialsFile   string
	TokenSource       oauth2.TokenSource
	// TokenClient sends the token requests (nil: a bounded client that
	// never follows redirects); Now is the clock of the token cache.
	TokenClient *http.Client
	Now         func() time.Time
}

// BaseURL is the API host of location: aiplatform.googleapis.com for
// "global", {location}-aiplatform.googleapis.com otherwise.
func BaseURL(location string) string {
	if location == "global" {
		return "https://aiplatform.googleapis.com"
	}
	return "https://" + location + "-aiplatform.googleapis.com"
}

// Provider talks to Vertex AI for one project and location. It is
// immutable (but for its token cache) and safe for concurrent use.
type Provider struct {
	endpoint.Endpoint
	gemini *Gemini
	claude *Claude
	tokens *oauthtoken.Cache
	err    error
}

// name is a project id or location: letters, digits, hyphens.
var name = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// New returns a Provider for cfg; configuration errors are reported by
// Validate.
func New(cfg Config) *Provider {
	var errs []error
	if !name.MatchString(cfg.Project) {
		errs = append(errs, fmt.Errorf("provider %s: project %q must be a Google Cloud project id", cfg.Name, cfg.Project))
	}
	if !name.MatchString(cfg.Location) {
		errs = append(errs, fmt.Errorf("provider %s: location %q must be a region such as us-central1, or global", cfg.Name, cfg.Location))
	}
	if cfg.APIKey != "" {
		errs = append(errs, fmt.Errorf("provider %s: Vertex AI takes OAuth credentials (credentials_file or Application Default Credentials), not an API key", cfg.Name))
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = BaseURL(cfg.Location)
	}
	e := endpoint.New(cfg.Config, nil)
	fetch, err := fetcher(cfg)
	errs = append(errs, err)
	p := &Provider{Endpoint: e, tokens: oauthtoken.New("Google OAuth", fetch, cfg.TokenClient, cfg.Now), err: errors.Join(errs...)}
	root := e.Base() + "/v1/projects/" + cfg.Project + "/locations/" + cfg.Location + "/publishers/"
	p.gemini = newGemini(p, cfg.Config, root+"google")
	p.claude = newClaude(p, cfg.Config, root+"anthropic/models/")
	return p
}

// fetcher returns how cfg's tokens are fetched.
func fetcher(cfg Config) (oauthtoken.Fetch, error) {
	switch {
	case cfg.TokenSource != nil:
		return func(context.Context) (*oauth2.Token, error) { return cfg.TokenSource.Token() }, nil
	case cfg.CredentialsFile != "":
		data, err := os.ReadFile(cfg.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("provider %s: credentials_file: %w", cfg.Name, err)
		}
		if _, err := google.CredentialsFromJSONWithType(context.Background(), data, google.ServiceAccount, Scope); err != nil {
			// The parser's message may quote the file; name the file only.
			return nil, fmt.Errorf("provider %s: credentials_file %s is not a service-account key file (JSON with type service_account)", cfg.Name, cfg.CredentialsFile)
		}
		return func(ctx context.Context) (*oauth2.Token, error) {
			creds, err := google.CredentialsFromJSONWithType(ctx, data, google.ServiceAccount, Scope)
			if err != nil {
				return nil, err
			}
			return creds.TokenSource.Token()
		}, nil
	}
	return func(ctx context.Context) (*oauth2.Token, error) {
		creds, err := google.FindDefaultCredentials(ctx, Scope)
		if err != nil {
			return nil, errors.New("no Application Default Credentials (set credentials_file, GOOGLE_APPLICATION_CREDENTIALS, or run on Google Cloud)")
		}
		return creds.TokenSource.Token()
	}, nil
}

// Validate reports configuration errors.
func (p *Provider) Validate() error { return errors.Join(p.Endpoint.Validate(), p.err) }

// IsClaude reports whether model is served by Anthropic's publisher path.
func IsClaude(model string) bool { return strings.HasPrefix(model, "claude-") }

// Family is one wire family of Vertex AI's models: the provider value
// that builds, decodes and (for Claude) passes through a model's requests.
type Family interface {
	Name() string
	NewRequest(ctx context.Context, req *openai.ChatRequest) (*http.Request, error)
	DecodeResponse(resp *http.Response) (*openai.ChatResponse, error)
	DecodeStream(resp *http.Response) iter.Seq2[*openai.ChatChunk, error]
	DecodeError(resp *http.Response) error
	Refused(req *http.Request) bool
}

// Family returns the family serving model: *Claude for Claude models,
// *Gemini for every other.
func (p *Provider) Family(model string) Family {
	if IsClaude(model) {
		return p.claude
	}
	return p.gemini
}

// familyOf is the family that sent resp's request (by its path).
func (p *Provider) familyOf(resp *http.Response) Family {
	if resp.Request != nil && strings.Contains(resp.Request.URL.Path, "/publishers/anthropic/") {
		return p.claude
	}
	return p.gemini
}

// NewRequest builds req for its model's family.
func (p *Provider) NewRequest(ctx context.Context, req *openai.ChatRequest) (*http.Request, error) {
	return p.Family(req.Model).NewRequest(ctx, req)
}

// DecodeResponse decodes a 2xx response with the family that was asked.
func (p *Provider) DecodeResponse(resp *http.Response) (*openai.ChatResponse, error) {
	return p.familyOf(resp).DecodeResponse(resp)
}

// DecodeStream decodes a 2xx stream with the family that was asked.
func (p *Provider) DecodeStream(resp *http.Response) iter.Seq2[*openai.ChatChunk, error] {
	return p.familyOf(resp).DecodeStream(resp)
}

// DecodeError decodes a non-2xx response with the family that was asked.
func (p *Provider) DecodeError(resp *http.Response) error {
	return p.familyOf(resp).DecodeError(resp)
}

// Refused drops the token req carried (Vertex answered 401) and asks for
// one more attempt with a new one.
func (p *Provider) Refused(req *http.Request) bool {
	return p.tokens.Refused(strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer "))
}

// authorize puts a token in req (a 502 *openai.APIError when none can be
// had).
func (p *Provider) authorize(req *http.Request) (*http.Request, error) {
	tok, err := p.tokens.Token(req.Context())
	if err != nil {
		return nil, &openai.APIError{Status: http.StatusBadGateway, Type: openai.TypeUpstream, Code: "upstream_auth_failed", Provider: p.Name(),
			Message: fmt.Sprintf("provider %s: no access token: %v", p.Name(), err)}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return req, nil
}

// redact removes the token a request carried from an error's text, in
// case an upstream echoed it.
func redact(err error, resp *http.Response) error {
	var ae *openai.APIError
	if !errors.As(err, &ae) || resp.Request == nil {
		return err
	}
	tok := strings.TrimPrefix(resp.Request.Header.Get("Authorization"), "Bearer ")
	if len(tok) < 8 {
		return err
	}
	for _, s := range []*string{&ae.Message, &ae.Param, &ae.Code, &ae.Type} {
		*s = strings.ReplaceAll(*s, tok, "[redacted]")
	}
	return err
}
