// Package bedrock provides the AWS Bedrock provider for a Bridge: the
// Bedrock Runtime's Converse and ConverseStream APIs, signed with SigV4
// using the AWS SDK's default credentials chain, or a Bedrock API key.
// It lives outside the root package so that only programs that use
// Bedrock link the AWS SDK.
//
//	p := bedrock.New(llmbridge.ProviderConfig{Region: "us-east-1"})
//	b, err := llmbridge.New(llmbridge.WithProvider(p))
package bedrock

import (
	"errors"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/models"
	bedrockprov "github.com/llmbridge/llmbridge/internal/provider/bedrock"
)

// DefaultModels returns the model list of a Bedrock provider configured
// without one.
func DefaultModels() []string {
	return []string{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us.anthropic.claude-haiku-4-5-20251001-v1:0",
		"anthropic.claude-3-5-haiku-20241022-v1:0", "amazon.nova-pro-v1:0", "amazon.nova-lite-v1:0", "amazon.nova-micro-v1:0"}
}

// New returns the Bedrock provider (name "bedrock"). Region is the AWS
// region requests are signed for (empty: AWS_REGION or the profile's);
// BaseURL, when set, replaces https://bedrock-runtime.{Region}.amazonaws.com
// (a VPC endpoint). Without an APIKey, requests are signed with SigV4 using
// the AWS SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/
// AWS_SESSION_TOKEN, AWS_PROFILE, web identity, container and instance
// roles), cached and refreshed before they expire; with one, it is sent
// as a Bedrock API key ("Authorization: Bearer"). APIKeys is not
// supported (an error at New). Model IDs are Bedrock's: foundation
// models, inference profiles ("us.anthropic.claude-…-v1:0") or ARNs.
//
// System messages, images (base64 data URLs), tools, tool_choice, stop,
// max_tokens, temperature, top_p and, on Claude models, reasoning_effort
// (a thinking budget) are translated; reasoning comes back as
// reasoning_content with its signature in "reasoning_signature", usage
// counts cache reads and writes in the prompt, and exceptions keep
// their status and Retry-After.
func New(cfg llmbridge.ProviderConfig) llmbridge.Provider {
	if cfg.Name == "" {
		cfg.Name = "bedrock"
	}
	if cfg.Models == nil {
		cfg.Models = DefaultModels()
	}
	if cfg.ModelPatterns == nil {
		cfg.ModelPatterns = models.BedrockPatterns()
	}
	p := bedrockprov.New(bedrockprov.Config{Name: cfg.Name, Region: cfg.Region, BaseURL: cfg.BaseURL, APIKey: cfg.APIKey,
		Models: cfg.Models, Headers: cfg.Headers, Patterns: cfg.ModelPatterns})
	if len(cfg.APIKeys) > 0 {
		return &oneKey{p}
	}
	return p
}

// oneKey is a provider configured with several API keys, which Bedrock
// does not take: it reports that at New.
type oneKey struct{ *bedrockprov.Provider }

// Validate reports the key list along with the other errors.
func (p *oneKey) Validate() error {
	return errors.Join(p.Provider.Validate(), errors.New("provider "+p.Name()+": Bedrock takes one API key (api_key or api_key_env), not a list"))
}
