package configfile

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
)

// The YAML reads; the Entra secret comes from its variable;
// cloud settings on another kind, or a secret variable that is not set,
// are errors.
func TestReadCloudKinds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(`providers:
  - name: azure
    kind: azure
    base_url: https://my-resource.openai.azure.com
    api_version: "2024-10-21"
    entra: {tenant_id: T, client_id: C, client_secret_env: AZURE_CLIENT_SECRET, authority: https://login.microsoftonline.com}
    deployments: {gpt-4o-mini: prod-4o-mini}
    models: [gpt-4o-mini]
  - name: vertex
    kind: vertex
    project: my-project
    location: us-central1
    models: [gemini-2.5-flash, claude-sonnet-4-5@20250929]
`), 0o600)
	f, err := Read(path, map[string]string{"AZURE_CLIENT_SECRET": "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	az, vx := f.Providers[0], f.Providers[1]
	if az.Entra.ClientSecret != "s3cret" || az.Deployments["gpt-4o-mini"] != "prod-4o-mini" || az.APIVersion != "2024-10-21" || vx.Project != "my-project" || vx.Location != "us-central1" {
		t.Fatalf("%+v %+v", az, vx)
	}
	p := NewAzure(az, llmbridge.ProviderConfig{Name: az.Name, BaseURL: az.BaseURL, Models: az.Models})
	if err := p.(llmbridge.Validator).Validate(); err != nil {
		t.Errorf("azure: %v", err)
	}
	vp := NewVertex(vx, llmbridge.ProviderConfig{Name: vx.Name, Models: vx.Models})
	if _, ok := vp.(llmbridge.PerModelProvider); !ok {
		t.Error("vertex is not a PerModelProvider")
	}
	// Vertex's own names (a partner model @version) are its family; an
	// Azure resource's deployments claim none unless model_patterns says.
	if f, ok := vp.(llmbridge.ModelFamily); !ok || !slices.Equal(f.ModelPatterns(), []string{"claude-*@*"}) {
		t.Errorf("vertex family %v", vp)
	}
	if f, ok := p.(llmbridge.ModelFamily); ok && len(f.ModelPatterns()) > 0 {
		t.Errorf("azure family %v", f.ModelPatterns())
	}

	os.WriteFile(path, []byte(`providers:
  - {name: a, kind: openai, base_url: "https://x", project: p, deployments: {a: b}}
  - {name: b, kind: azure, base_url: "https://x", entra: {tenant_id: T, client_id: C, client_secret_env: UNSET}}
`), 0o600)
	_, err = Read(path, nil)
	for _, want := range []string{"settings of kind vertex", "settings of kind azure", `client_secret_env must name a variable that is set ("UNSET")`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// Several keys are refused for Azure (one key per resource).
func TestAzureOneKey(t *testing.T) {
	p := NewAzure(Provider{}, llmbridge.ProviderConfig{Name: "az", BaseURL: "https://x.openai.azure.com", APIKey: "k1", APIKeys: []string{"k2"}})
	if err := p.(llmbridge.Validator).Validate(); err == nil || !strings.Contains(err.Error(), "takes one key") {
		t.Errorf("error %v", err)
	}
}
