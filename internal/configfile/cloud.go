package configfile

import (
	"errors"
	"fmt"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/models"
	"github.com/llmbridge/llmbridge/internal/provider/azure"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/provider/vertex"
)

// Azure is the settings of a kind: azure provider:
//
//   - name: azure
//     kind: azure
//     base_url: https://my-resource.openai.azure.com
//     api_version: "2024-10-21"
//     api_key_env: AZURE_OPENAI_API_KEY          # or entra:
//     entra: {tenant_id: T, client_id: C, client_secret_env: AZURE_CLIENT_SECRET}
//     deployments: {gpt-4o-mini: prod-4o-mini}
type Azure struct {
	APIVersion  string            `yaml:"api_version,omitempty"`
	Deployments map[string]string `yaml:"deployments,omitempty"`
	Entra       *EntraFile        `yaml:"entra,omitempty"`
}

// EntraFile is an Azure provider's Microsoft Entra ID client credentials;
// the secret is read from the variable client_secret_env names.
type EntraFile struct {
	TenantID        string `yaml:"tenant_id"`
	ClientID        string `yaml:"client_id"`
	ClientSecretEnv string `yaml:"client_secret_env"`
	Authority       string `yaml:"authority"`

	ClientSecret string `yaml:"-"` // resolved from ClientSecretEnv
}

// Vertex is the settings of a kind: vertex provider (project, location
// and, instead of Application Default Credentials, a service-account key
// file).
type Vertex struct {
	Project         string `yaml:"project,omitempty"`
	Location        string `yaml:"location,omitempty"`
	CredentialsFile string `yaml:"credentials_file,omitempty"`
}

// resolveCloud reads the Entra client secret from environ and refuses a
// cloud setting on a provider of another kind; where names p in messages.
func (p *Provider) resolveCloud(where string, environ map[string]string) error {
	var errs []error
	if p.Kind != "azure" && (p.APIVersion != "" || len(p.Deployments) > 0 || p.Entra != nil) {
		errs = append(errs, fmt.Errorf("%s: api_version, deployments and entra are settings of kind azure", where))
	}
	if p.Kind != "vertex" && (p.Project != "" || p.Location != "" || p.CredentialsFile != "") {
		errs = append(errs, fmt.Errorf("%s: project, location and credentials_file are settings of kind vertex", where))
	}
	if e := p.Entra; e != nil {
		if e.ClientSecret = environ[e.ClientSecretEnv]; e.ClientSecretEnv == "" || e.ClientSecret == "" {
			errs = append(errs, fmt.Errorf("%s: entra: client_secret_env must name a variable that is set (%q)", where, e.ClientSecretEnv))
		}
	}
	return errors.Join(errs...)
}

// endpointOf is the common part of a provider's settings.
func endpointOf(pc llmbridge.ProviderConfig) endpoint.Config {
	return endpoint.Config{Name: pc.Name, BaseURL: pc.BaseURL, APIKey: pc.APIKey, Models: pc.Models, Headers: pc.Headers, Patterns: pc.ModelPatterns}
}

// NewAzure builds the kind: azure provider of the file's entry p, whose
// common settings are pc. Several keys (api_keys) are refused by its
// Validate: Azure takes one key per resource.
func NewAzure(p Provider, pc llmbridge.ProviderConfig) llmbridge.Provider {
	cfg := azure.Config{Config: endpointOf(pc), APIVersion: p.APIVersion, Deployments: p.Deployments}
	if e := p.Entra; e != nil {
		cfg.Entra = &azure.Entra{TenantID: e.TenantID, ClientID: e.ClientID, ClientSecret: e.ClientSecret, Authority: e.Authority}
	}
	return oneKey{azure.New(cfg), len(pc.APIKeys)}
}

// NewVertex builds the kind: vertex provider of the file's entry p, whose
// common settings are pc.
func NewVertex(p Provider, pc llmbridge.ProviderConfig) llmbridge.Provider {
	if pc.ModelPatterns == nil {
		pc.ModelPatterns = models.VertexPatterns()
	}
	return VertexProvider{vertex.New(vertex.Config{Config: endpointOf(pc), Project: p.Project, Location: p.Location, CredentialsFile: p.CredentialsFile})}
}

// VertexProvider gives the Bridge a Vertex AI provider's model families
// (llmbridge.PerModelProvider).
type VertexProvider struct{ *vertex.Provider }

// ForModel is the family serving model.
func (v VertexProvider) ForModel(model string) llmbridge.Provider { return v.Family(model) }

// oneKey is an Azure provider configured with a single key; more are a
// configuration error.
type oneKey struct {
	*azure.Provider
	more int
}

// Validate reports the provider's errors and extra keys.
func (k oneKey) Validate() error {
	if k.more > 0 {
		return errors.Join(k.Provider.Validate(), fmt.Errorf("provider %s: kind azure takes one key (api_key or api_key_env), not api_keys", k.Name()))
	}
	return k.Provider.Validate()
}
