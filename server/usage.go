package main

import "github.com/llmbridge/llmbridge/internal/usage/usagecli"

// usageCommand is the "usage" command (internal/usage/usagecli): usage
// reports from the configured store.
func usageCommand(o runOptions, args []string) error {
	return usagecli.Main(args, o.stdout, o.stderr, func() (usagecli.Config, error) {
		cfg, err := o.readConfig()
		if err != nil {
			return usagecli.Config{}, err
		}
		return usagecli.Config{StoreDSN: cfg.storeDSN(), AccessKeys: cfg.AccessKeys, Prices: cfg.allPrices()}, nil
	})
}
