// Package kinds is the table of the provider kinds the server builds: each
// kind's constructor, the YAML file's kind values that name it and, for a
// built-in provider, the variables that configure it. Validation,
// construction, the keys command and the stored configuration all read
// it; a new kind is one entry.
package kinds

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/bedrock"
	"github.com/llmbridge/llmbridge/internal/configfile"
)

// Kind is one kind of provider the server builds: its
// constructor, the YAML file's kind values that name it and, for a
// built-in provider, its name and the variables that configure it:
// the key from KeyVars (the first one set), {env}_BASE_URL, {env}_MODELS
// and {env}_USE_PROXY.
type Kind struct {
	New   func(llmbridge.ProviderConfig) llmbridge.Provider
	Kinds []string                                                               // the YAML file's kind values; "" is the default kind
	File  func(configfile.Provider, llmbridge.ProviderConfig) llmbridge.Provider // instead of New: kinds with settings of their own

	Name            string   // a built-in provider's name; "" for YAML kinds only
	Env             string   // the prefix of its variables
	KeyVars         []string // its key variables, by precedence
	Flag            string   // the keys command's flag for its key
	Help            string   // and the flag's help
	DefaultBaseURL  string   // {env}_BASE_URL's default
	DefaultUseProxy bool     // {env}_USE_PROXY's default
}

// All is every kind of provider the server knows, in the order
// the built-in ones are added to a Bridge (and their models listed).
// Validation and construction both read it; a new kind is one entry.
var All = []Kind{
	{Name: "openai", New: llmbridge.OpenAI, Env: "OPENAI", KeyVars: []string{"OPENAI_API_KEY"}, Flag: "openai", Help: "OpenAI key", DefaultBaseURL: "https://api.openai.com/v1"},
	{New: llmbridge.OpenAICompatible, Kinds: []string{"", "openai"}},
	{Name: "gemini", New: llmbridge.Gemini, Kinds: []string{"gemini"}, Env: "GEMINI", KeyVars: []string{"GOOGLE_API_KEY", "GEMINI_API_KEY"}, Flag: "google", Help: "Google (Gemini) key", DefaultBaseURL: "https://generativelanguage.googleapis.com/v1beta", DefaultUseProxy: true},
	{New: llmbridge.GeminiOpenAICompat, Kinds: []string{"gemini-openai"}},
	{Name: "deepseek", New: llmbridge.DeepSeek, Env: "DEEPSEEK", KeyVars: []string{"DEEPSEEK_API_KEY"}, Flag: "deepseek", Help: "DeepSeek key", DefaultBaseURL: "https://api.deepseek.com"},
	{Name: "anthropic", New: llmbridge.Anthropic, Kinds: []string{"anthropic"}, Env: "ANTHROPIC", KeyVars: []string{"ANTHROPIC_API_KEY"}, Flag: "anthropic", Help: "Anthropic key", DefaultBaseURL: "https://api.anthropic.com/v1"},
	{New: bedrock.New, Kinds: []string{"bedrock"}},
	{File: configfile.NewAzure, Kinds: []string{"azure"}},
	{File: configfile.NewVertex, Kinds: []string{"vertex"}},
}

// Builtin is a built-in provider as the environment configures
// it.
type Builtin struct {
	*Kind
	Key      string // one key or a comma list; "" when not served
	BaseURL  string
	Models   []string
	UseProxy bool
}

// ReadBuiltins reads the built-in providers' variables from environ.
func ReadBuiltins(environ map[string]string) ([]Builtin, error) {
	var out []Builtin
	var errs []error
	for i := range All {
		k := &All[i]
		if k.Name == "" {
			continue
		}
		b := Builtin{Kind: k, BaseURL: k.DefaultBaseURL, UseProxy: k.DefaultUseProxy}
		for _, v := range k.KeyVars {
			if b.Key == "" {
				b.Key = environ[v]
			}
		}
		if v := environ[k.Env+"_BASE_URL"]; v != "" {
			b.BaseURL = v
		}
		if v := environ[k.Env+"_MODELS"]; v != "" {
			b.Models = strings.Split(v, ",")
		}
		if v := environ[k.Env+"_USE_PROXY"]; v != "" {
			var err error
			if b.UseProxy, err = strconv.ParseBool(v); err != nil {
				errs = append(errs, fmt.Errorf("%s_USE_PROXY: want true or false, got %q", k.Env, v))
			}
		}
		if _, err := SplitKeys(k.KeyVars[0], b.Key); err != nil { // a comma list: no empty entry
			errs = append(errs, err)
		}
		out = append(out, b)
	}
	return out, errors.Join(errs...)
}

// Of is the kind a YAML provider's kind value names; nil when none.
func Of(kind string) *Kind {
	for i, k := range All {
		if slices.Contains(k.Kinds, kind) {
			return &All[i]
		}
	}
	return nil
}

// Build makes the provider of the file's entry p, whose common settings
// are pc.
func (k *Kind) Build(p configfile.Provider, pc llmbridge.ProviderConfig) llmbridge.Provider {
	if k.File != nil {
		return k.File(p, pc)
	}
	return k.New(pc)
}

// Names lists the YAML file's kind values, for error messages.
func Names() string {
	var names []string
	for _, k := range All {
		for _, n := range k.Kinds {
			if n != "" {
				names = append(names, n)
			}
		}
	}
	return strings.Join(names, ", ")
}

// KeyVarList lists the built-in providers' first key variables, for
// messages: "OPENAI_API_KEY, GOOGLE_API_KEY".
func KeyVarList() string {
	var vars []string
	for _, k := range All {
		if k.Name != "" {
			vars = append(vars, k.KeyVars[0])
		}
	}
	return strings.Join(vars, ", ")
}

// SplitKeys reads a provider key variable: one key, or a comma list
// ("k1,k2,k3"). An empty entry is an error (a stray comma would otherwise
// hide a missing key).
func SplitKeys(name, v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	for i, p := range parts {
		if parts[i] = strings.TrimSpace(p); parts[i] == "" {
			return nil, fmt.Errorf("%s: key %d of the comma list is empty", name, i+1)
		}
	}
	return parts, nil
}

// WithKeys puts a key list into a provider config: the first as APIKey,
// the rest as APIKeys.
func WithKeys(pc llmbridge.ProviderConfig, keys []string) llmbridge.ProviderConfig {
	if len(keys) > 0 {
		pc.APIKey, pc.APIKeys = keys[0], keys[1:]
	}
	return pc
}
