package discover

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/demo"
)

// Settings are what the configuration says about the extra providers.
type Settings struct {
	Discover      bool          // probe local model servers at start (LLMBRIDGE_DISCOVER_LOCAL)
	OllamaBaseURL string        // OLLAMA_BASE_URL; "" probes Ollama's usual address
	Demo          *bool         // LLMBRIDGE_DEMO; nil: on when nothing is Configured
	DemoDelay     time.Duration // LLMBRIDGE_DEMO_DELAY
	// Configured names the providers the configuration itself serves
	// (built-ins with a key, the YAML file's); they win over a found
	// server or the demo of the same name.
	Configured []string
}

// DemoReason says whether the demo provider is on under s and why.
func DemoReason(s Settings) (on bool, why string) {
	switch {
	case s.Demo != nil && *s.Demo:
		return true, "LLMBRIDGE_DEMO=true"
	case s.Demo != nil:
		return false, "LLMBRIDGE_DEMO=false"
	case len(s.Configured) == 0:
		return true, "no provider is configured (no provider key, no LLMBRIDGE_CONFIG provider)"
	}
	return false, "a provider is configured"
}

// Extras are the providers the server adds by itself: local model
// servers found at start and the demo. It lives as long as the server,
// across reloads; build one with NewExtras. It is safe for concurrent
// use.
type Extras struct {
	cands  []Candidate
	tokens *llmbridge.TokenCounter
	log    *slog.Logger

	mu      sync.Mutex
	probed  bool
	found   []Server
	demos   map[time.Duration]*demo.Provider // by delay; closed by Close
	demoLog string                           // what was last said about the demo
}

// NewExtras returns the extras that probe cands (the first time Options
// is called), count the demo's tokens with tokens and log to log.
func NewExtras(cands []Candidate, tokens *llmbridge.TokenCounter, log *slog.Logger) *Extras {
	return &Extras{cands: cands, tokens: tokens, log: log}
}

// Options returns the Bridge options for the extra providers under s,
// probing the candidates the first time it is called (start-up) and
// logging what it found, and the demo's state when it changes. A
// configured provider of the same name wins over a found server or the
// demo.
func (e *Extras) Options(ctx context.Context, s Settings) []llmbridge.Option {
	e.mu.Lock()
	defer e.mu.Unlock()
	first := !e.probed
	if first {
		e.probed = true
		if !s.Discover {
			e.log.Info("local model discovery is off (LLMBRIDGE_DISCOVER_LOCAL=false)")
		}
		e.found = Probe(ctx, Candidates(s, e.cands), e.log)
	}
	opts := e.foundOptions(s, first)
	if d := e.demo(s, first); d != nil {
		opts = append(opts, llmbridge.WithProvider(d))
	}
	return opts
}

// foundOptions adds the servers found, each under its prefix only,
// unless a configured provider has its name; first logs what was found.
func (e *Extras) foundOptions(s Settings, first bool) []llmbridge.Option {
	var opts []llmbridge.Option
	for _, f := range e.found {
		if slices.Contains(s.Configured, f.Name) {
			if first {
				e.log.Info("local model server found but not added: a configured provider has its name", "provider", f.Name, "url", f.BaseURL)
			}
			continue
		}
		if first {
			e.log.Info("local model server found; its models are served under its prefix only", "provider", f.Name, "url", f.BaseURL,
				"models", len(f.Models), "list", strings.Join(f.Models, ","))
		}
		// Whatever listens on a well-known port is trusted with nothing but
		// its own prefix: a bare name ("claude-opus-4-8") never goes to it.
		opts = append(opts, llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: f.Name, BaseURL: f.BaseURL, Models: f.Models}),
			llmbridge.PrefixOnly()))
	}
	return opts
}

// demo returns the demo provider when it is on under s (nil when off),
// saying so when its state changes.
func (e *Extras) demo(s Settings, first bool) *demo.Provider {
	on, why := DemoReason(s)
	if on && slices.Contains(s.Configured, "demo") {
		on, why = false, "a configured provider is named demo"
	}
	if state := fmt.Sprint(on, why); state != e.demoLog {
		e.demoLog = state
		if on {
			off := "set LLMBRIDGE_DEMO=false, or add a provider key to .env"
			if s.Demo != nil {
				off = "unset LLMBRIDGE_DEMO or set it to false"
			}
			e.log.Info("demo provider is on: demo/echo echoes your last message back (no real model; demo/error-429 and demo/error-500 answer errors)",
				"why", why, "turn_off", off)
		} else if !first {
			e.log.Info("demo provider is off", "why", why)
		}
	}
	if !on {
		return nil
	}
	if e.demos == nil {
		e.demos = map[time.Duration]*demo.Provider{}
	}
	d := e.demos[s.DemoDelay]
	if d == nil {
		d = demo.New(demo.Config{Delay: s.DemoDelay, Tokens: e.tokens})
		e.demos[s.DemoDelay] = d
	}
	return d
}

// Close stops the demo providers' upstreams; call it when no Bridge
// serves any more.
func (e *Extras) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, d := range e.demos {
		_ = d.Close()
	}
	e.demos = nil
}
