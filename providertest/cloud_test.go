package providertest_test

import (
	"testing"

	"golang.org/x/oauth2"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/provider/azure"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/provider/vertex"
	"github.com/llmbridge/llmbridge/providertest"
)

// TestClouds runs the suite against the cloud kinds (kind: azure and
// kind: vertex in the YAML file): Azure with an api-key, Vertex with the
// key as its OAuth token.
func TestClouds(t *testing.T) {
	t.Run("azure", func(t *testing.T) {
		providertest.Run(t, providertest.Harness{Wire: providertest.WireAzure, New: func(baseURL, key string) llmbridge.Provider {
			return azure.New(azure.Config{Config: endpoint.Config{Name: "azure", BaseURL: baseURL, APIKey: key}})
		}})
	})
	t.Run("vertex", func(t *testing.T) {
		providertest.Run(t, providertest.Harness{Wire: providertest.WireVertex, New: func(baseURL, key string) llmbridge.Provider {
			return vertex.New(vertex.Config{Config: endpoint.Config{Name: "vertex", BaseURL: baseURL}, Project: "test-project", Location: "us-central1",
				TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: key})})
		}})
	})
}
