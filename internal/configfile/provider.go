package configfile

import (
	"errors"
	"fmt"
)

// Provider is one provider of the file.
type Provider struct {
	Name      string `yaml:"name"`
	Kind      string `yaml:"kind"` // openai (default), gemini (native), gemini-openai (compat endpoint), anthropic, azure, bedrock or vertex
	BaseURL   string `yaml:"base_url"`
	APIKeyEnv string `yaml:"api_key_env"`
	APIKey    string `yaml:"api_key"`
	// APIKeys and APIKeyEnvs give several keys; with api_key/api_key_env
	// they add to the list.
	APIKeys    []string `yaml:"api_keys"`
	APIKeyEnvs []string `yaml:"api_key_envs"`
	Models     []string `yaml:"models"`
	// ModelPatterns claim a model family ("llama-*"): bare names no list
	// names go here (llmbridge.ProviderConfig.ModelPatterns). Absent: the
	// kind's vendor family (none for kind openai); [] claims none.
	ModelPatterns []string          `yaml:"model_patterns,omitempty"`
	Headers       map[string]string `yaml:"headers"`
	UseProxy      bool              `yaml:"use_proxy"`
	Region        string            `yaml:"region,omitempty"` // kind bedrock: the AWS region
	Proxy         string            `yaml:"proxy"`
	// The cloud kinds' own settings (cloud.go).
	Azure  `yaml:",inline"`
	Vertex `yaml:",inline"`
	// HealthCheck turns on the provider's active health check.
	HealthCheck *HealthCheckFile `yaml:"health_check,omitempty"`

	Key  string   `yaml:"-"` // resolved from APIKey or APIKeyEnv
	More []string `yaml:"-"` // resolved from APIKeys and APIKeyEnvs
}

// resolve reads p's keys from environ; where names p in messages.
func (p *Provider) resolve(where string, environ map[string]string) error {
	var errs []error
	switch {
	case p.APIKey != "" && p.APIKeyEnv != "":
		errs = append(errs, fmt.Errorf("%s: set api_key or api_key_env, not both", where))
	case p.APIKeyEnv != "":
		p.Key = environ[p.APIKeyEnv]
	default:
		p.Key = p.APIKey
	}
	if (p.APIKeys != nil || p.APIKeyEnvs != nil) && len(p.APIKeys)+len(p.APIKeyEnvs) == 0 {
		errs = append(errs, fmt.Errorf("%s: api_keys/api_key_envs is an empty list", where))
	}
	p.More = append([]string(nil), p.APIKeys...)
	for _, e := range p.APIKeyEnvs {
		p.More = append(p.More, environ[e])
	}
	for j, k := range p.More {
		if k == "" {
			errs = append(errs, fmt.Errorf("%s: key %d of api_keys/api_key_envs is empty", where, j+1))
		}
	}
	return errors.Join(errs...)
}
