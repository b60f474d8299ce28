package bedrock_test

import (
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/bedrock"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// Every default model has a price in the default table.
func TestDefaultModelsArePriced(t *testing.T) {
	prices := usage.DefaultPrices()
	for _, m := range bedrock.DefaultModels() {
		if _, ok := prices.Lookup("bedrock", m); !ok {
			t.Errorf("bedrock/%s has no default price", m)
		}
	}
}

// A key list is refused: Bedrock takes one API key.
func TestKeyListIsRefused(t *testing.T) {
	p := bedrock.New(llmbridge.ProviderConfig{Region: "us-east-1", APIKey: "a", APIKeys: []string{"b"}})
	v, ok := p.(llmbridge.Validator)
	if !ok {
		t.Fatal("not a Validator")
	}
	if err := v.Validate(); err == nil || !strings.Contains(err.Error(), "one API key") {
		t.Errorf("Validate = %v", err)
	}
}
