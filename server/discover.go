package main

import (
	"errors"
	"fmt"

	"github.com/llmbridge/llmbridge/internal/discover"
)

// discoverSettings is what the configuration says about the providers
// the server adds by itself: local model servers and the demo
// (internal/discover).
func (c *config) discoverSettings() discover.Settings {
	return discover.Settings{Discover: c.DiscoverLocal, OllamaBaseURL: c.OllamaBaseURL, Demo: c.Demo, DemoDelay: c.DemoDelay, Configured: c.configuredProviders()}
}

// configuredProviders are the names of the providers the configuration
// itself serves: built-ins with a key and the YAML file's providers.
func (c *config) configuredProviders() []string {
	names := c.builtinNames() // builtins.go
	for _, p := range c.Providers {
		names = append(names, p.Name)
	}
	return names
}

// checkLocal validates the demo and discovery settings.
func (c *config) checkLocal() error {
	var errs []error
	if c.DemoDelay < 0 {
		errs = append(errs, fmt.Errorf("LLMBRIDGE_DEMO_DELAY must not be negative, got %v", c.DemoDelay))
	}
	if c.OllamaBaseURL != "" {
		errs = append(errs, discover.CheckOllamaBaseURL(c.OllamaBaseURL))
	}
	return errors.Join(errs...)
}
