package main

import (
	"io"
	"log/slog"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/keys"
	"github.com/llmbridge/llmbridge/internal/keys/keyscli"
	"github.com/llmbridge/llmbridge/internal/kinds"
)

// keysMain is the "keys" command (internal/keys/keyscli): the virtual
// keys of the configured usage store, or the keys of the .env file.
func keysMain(o runOptions, args []string) error {
	load := func() (keyscli.Config, error) {
		cfg, err := o.readConfig()
		if err != nil {
			return keyscli.Config{}, err
		}
		return keyscli.Config{StoreDSN: cfg.storeDSN(), Catalog: func() keys.Catalog { return keyCatalog(cfg) }}, nil
	}
	return keyscli.Main(args, keyscli.Options{Stdout: o.stdout, Stderr: o.stderr, EnvVars: envKeyVars(), Load: load})
}

// keysCommand rewrites keys in the .env file (keyscli.Rotate); usage and
// the summary go to out.
func keysCommand(args []string, out io.Writer) error { return keyscli.Rotate(args, out, envKeyVars()) }

// envKeyVars are the .env variables the keys command sets, by flag.
func envKeyVars() []keyscli.EnvVar {
	vars := []keyscli.EnvVar{{Flag: "access", Name: "ACCESS_API_KEYS", Help: "client access keys, comma-separated"}}
	for _, k := range kinds.All {
		if k.Name != "" {
			vars = append(vars, keyscli.EnvVar{Flag: k.Flag, Name: k.KeyVars[0], Help: k.Help})
		}
	}
	return append(vars, keyscli.EnvVar{Flag: "admin", Name: "LLMBRIDGE_ADMIN_KEY", Help: "admin API key"})
}

// keyCatalog is what the keys command checks a budgeted key's models
// against: the configuration's prices and the model list of a Bridge
// built from it (never started: no request is sent), so "openai/*" is
// checked against the models the server would serve. Models the server
// discovers at start (LLMBRIDGE_DISCOVER_LOCAL) are not known here.
func keyCatalog(cfg *config) keys.Catalog {
	c := keys.Catalog{Prices: cfg.allPrices()}
	b, err := llmbridge.New(append(cfg.options(slog.New(slog.DiscardHandler)), llmbridge.WithModelRefresh(0))...)
	if err != nil {
		return c // the server would not start with it either, and says why
	}
	defer b.Close()
	for _, m := range b.Models() {
		c.Models = append(c.Models, m.ID)
	}
	c.Priced = func(model string) bool { return pricedOn(b, c.Prices, model) }
	return c
}
