// Package bedrock is the adapter for the AWS Bedrock Runtime's Converse
// and ConverseStream APIs (POST {base}/model/{modelId}/converse and
// /converse-stream). OpenAI-shaped requests are translated to Converse
// requests (system, messages with text, image, toolUse and toolResult
// blocks, inferenceConfig, toolConfig); responses and the binary
// event-stream frames of ConverseStream come back as OpenAI responses and
// chunks, with stop reasons, usage (cache reads and writes counted in the
// prompt) and exceptions mapped.
//
// Requests are signed with SigV4 (service "bedrock") using credentials
// from the AWS SDK's default chain — environment, shared profile, web
// identity, container and instance roles — kept in the SDK's credentials
// cache, which refreshes them before they expire. A Bedrock API key, sent
// as a bearer token, replaces signing when configured.
//
// The adapter only translates and signs; the Bridge does the I/O. The one
// exception is the credentials chain itself, which may call STS or the
// instance metadata service when the cache needs fresh credentials.
package bedrock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/encoding/httpbinding"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
)

// SigningName is the SigV4 service name of the Bedrock Runtime.
const SigningName = "bedrock"

// Config describes a Bedrock Runtime upstream.
type Config struct {
	Name string // routing prefix, e.g. "bedrock"
	// Region is the AWS region requests are signed for and, without a
	// BaseURL, sent to. Empty takes the default chain's region
	// (AWS_REGION, the profile's region).
	Region string
	// BaseURL overrides https://bedrock-runtime.{Region}.amazonaws.com
	// (a VPC endpoint, a proxy); /model/{modelId}/… is appended.
	BaseURL string
	// APIKey is a Bedrock API key, sent as "Authorization: Bearer"
	// instead of signing. Never logged.
	APIKey string
	// Models are listed by /v1/models and resolve bare names.
	Models []string
	// Headers are sent, and signed, on every request.
	Headers map[string]string
	// Patterns are the model IDs bare names may claim (llmbridge.ModelFamily).
	Patterns []string
	// Credentials replaces the default chain (tests, programs with their
	// own provider); it is wrapped in the SDK's credentials cache.
	Credentials aws.CredentialsProvider
	// Now is the signing clock; nil is time.Now.
	Now func() time.Time
}

// Provider talks to the Bedrock Runtime. It is immutable and safe for
// concurrent use.
type Provider struct {
	endpoint.Endpoint
	region string
	creds  aws.CredentialsProvider // nil with an API key
	signer *v4.Signer
	now    func() time.Time
	err    error
}

// New returns a Provider for cfg; configuration errors (no region, an
// unreadable AWS profile) are reported by Validate.
func New(cfg Config) *Provider {
	p := &Provider{region: cfg.Region, creds: cfg.Credentials, now: cfg.Now, signer: v4.NewSigner()}
	if p.now == nil {
		p.now = time.Now
	}
	var errs []error
	if cfg.APIKey == "" && p.creds == nil || p.region == "" {
		ac, err := config.LoadDefaultConfig(context.Background())
		if err != nil {
			errs = append(errs, fmt.Errorf("provider %s: loading the AWS configuration: %w", cfg.Name, err))
		}
		if p.region == "" {
			p.region = ac.Region
		}
		if cfg.APIKey == "" && p.creds == nil {
			p.creds = ac.Credentials
		}
	}
	if _, cached := p.creds.(*aws.CredentialsCache); p.creds != nil && !cached {
		p.creds = aws.NewCredentialsCache(p.creds)
	}
	if p.region == "" {
		errs = append(errs, fmt.Errorf("provider %s: no AWS region (set region, or AWS_REGION)", cfg.Name))
	}
	if cfg.APIKey == "" && p.creds == nil {
		errs = append(errs, fmt.Errorf("provider %s: no AWS credentials provider and no API key", cfg.Name))
	}
	base := cfg.BaseURL
	if base == "" {
		base = "https://bedrock-runtime." + p.region + ".amazonaws.com"
	}
	ec := endpoint.Config{Name: cfg.Name, BaseURL: base, APIKey: cfg.APIKey, Models: cfg.Models, Headers: cfg.Headers, Patterns: cfg.Patterns}
	p.Endpoint = endpoint.New(ec, func(h http.Header, key string) { h.Set("Authorization", "Bearer "+key) })
	p.err = errors.Join(errs...)
	return p
}

// Validate reports configuration errors.
func (p *Provider) Validate() error { return errors.Join(p.Endpoint.Validate(), p.err) }

// Region returns the region requests are signed for.
func (p *Provider) Region() string { return p.region }

// URL returns the Converse (or, when stream is set, ConverseStream) URL
// for model, the model ID escaped as the AWS SDK escapes it: every byte
// but letters, digits and -._~ percent-encoded, so the ':' of
// "…-v1:0" and the '/' of an ARN stay inside one path segment.
func (p *Provider) URL(model string, stream bool) string {
	op := "/converse"
	if stream {
		op = "/converse-stream"
	}
	return p.Base() + "/model/" + httpbinding.EscapePath(model, true) + op
}

// NewRequest translates req and builds the signed Converse or
// ConverseStream request. Requests that cannot be translated fail with a
// 400 *openai.APIError before anything is sent; credentials that cannot
// be had fail with a plain error (the Bridge answers 500 and logs it).
func (p *Provider) NewRequest(ctx context.Context, req *openai.ChatRequest) (*http.Request, error) {
	if req.Model == "" {
		return nil, openai.BadRequest("model", "a Bedrock model ID is required")
	}
	body, err := translateRequest(req)
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL(req.Model, req.Stream), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header = p.Header()
	hreq.Header.Set("Accept", "application/json")
	if req.Stream {
		hreq.Header.Set("Accept", "application/vnd.amazon.eventstream")
	}
	return hreq, p.sign(ctx, hreq, body)
}

// sign signs hreq (whose body is body) with SigV4, unless the provider
// uses an API key.
func (p *Provider) sign(ctx context.Context, hreq *http.Request, body []byte) error {
	if p.creds == nil {
		return nil
	}
	creds, err := p.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("provider %s: retrieving AWS credentials: %w", p.Name(), err)
	}
	sum := sha256.Sum256(body)
	return p.signer.SignHTTP(ctx, creds, hreq, hex.EncodeToString(sum[:]), SigningName, p.region, p.now())
}

// modelOf is the model ID of a response's request, from its URL (Bedrock
// does not echo it).
func modelOf(resp *http.Response) string {
	if resp.Request == nil || resp.Request.URL == nil {
		return ""
	}
	path := resp.Request.URL.EscapedPath()
	path = strings.TrimSuffix(strings.TrimSuffix(path, "/converse-stream"), "/converse")
	seg := path[strings.LastIndexByte(path, '/')+1:]
	if m, err := url.PathUnescape(seg); err == nil {
		return m
	}
	return seg
}
