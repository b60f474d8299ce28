package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/tidwall/gjson"
)

// Probe timeouts: the well-known loopback addresses must answer quickly
// (start-up waits for them); an OLLAMA_BASE_URL the user set may be
// another machine and gets longer.
const (
	localProbeTimeout    = 300 * time.Millisecond
	explicitProbeTimeout = 2 * time.Second
)

// localCandidate is an address where an OpenAI-compatible model server
// may be listening.
type localCandidate struct {
	name    string // provider name it is added as: ollama, lmstudio, local
	baseURL string // the API root; GET {baseURL}/models is probed
	timeout time.Duration
}

// wellKnownLocal returns the loopback addresses the usual local model
// servers listen on. main probes them; tests pass their own.
func wellKnownLocal() []localCandidate {
	return []localCandidate{
		{"ollama", "http://127.0.0.1:11434/v1", localProbeTimeout},
		{"lmstudio", "http://127.0.0.1:1234/v1", localProbeTimeout},
		{"local", "http://127.0.0.1:8000/v1", localProbeTimeout}, // vLLM
		{"local", "http://127.0.0.1:8080/v1", localProbeTimeout}, // llama.cpp
	}
}

// foundServer is a local model server that answered.
type foundServer struct {
	name, baseURL string
	models        []string
}

// discover probes every candidate at once and returns those that answer
// GET /models with an OpenAI model list, in candidate order. A later
// candidate with a name already found is named name-port
// ("local-8080"). Misses are logged at debug level.
func discover(ctx context.Context, cands []localCandidate, log *slog.Logger) []foundServer {
	tr := &http.Transport{Proxy: nil, DialContext: (&net.Dialer{}).DialContext} // each probe has its own deadline
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	results := make([]*foundServer, len(cands))
	var wg sync.WaitGroup
	for i, c := range cands {
		wg.Go(func() {
			models, err := probe(ctx, client, c)
			if err != nil {
				log.Debug("no local model server", "url", c.baseURL, "err", err)
				return
			}
			results[i] = &foundServer{name: c.name, baseURL: c.baseURL, models: models}
		})
	}
	wg.Wait()
	var out []foundServer
	for _, f := range results {
		if f == nil {
			continue
		}
		if slices.ContainsFunc(out, func(o foundServer) bool { return o.name == f.name }) {
			if u, err := url.Parse(f.baseURL); err == nil && u.Port() != "" {
				f.name += "-" + u.Port()
			}
		}
		out = append(out, *f)
	}
	return out
}

// probe asks c for its model list.
func probe(ctx context.Context, client *http.Client, c localCandidate) ([]string, error) {
	timeout := c.timeout
	if timeout <= 0 {
		timeout = localProbeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.baseURL, "/")+"/models", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /models answered %d", resp.StatusCode)
	}
	data := gjson.GetBytes(body, "data")
	if !gjson.ValidBytes(body) || !data.IsArray() {
		return nil, errors.New("GET /models did not answer an OpenAI model list")
	}
	models := []string{}
	for _, m := range data.Array() {
		if id := m.Get("id").String(); id != "" {
			models = append(models, id)
		}
	}
	return models, nil
}

// localCandidates are the candidates cfg asks for: none when discovery is
// off; otherwise the defaults, with OLLAMA_BASE_URL (a "/v1" appended
// when missing, as Ollama's own variable names the server root) in place
// of Ollama's.
func (c *Config) localCandidates(defaults []localCandidate) []localCandidate {
	if !c.DiscoverLocal {
		return nil
	}
	out := slices.Clone(defaults)
	if c.OllamaBaseURL == "" {
		return out
	}
	base := strings.TrimRight(c.OllamaBaseURL, "/")
	if !strings.HasSuffix(base, "/v1") {
		base += "/v1"
	}
	out = slices.DeleteFunc(out, func(l localCandidate) bool { return l.name == "ollama" })
	return append([]localCandidate{{"ollama", base, explicitProbeTimeout}}, out...)
}

// configuredProviders are the names of the providers the configuration
// itself serves: built-ins with a key and the YAML file's providers.
func (c *Config) configuredProviders() []string {
	var names []string
	for name, key := range map[string]string{"openai": c.OpenAIKey, "gemini": c.GoogleKey, "deepseek": c.DeepSeekKey, "anthropic": c.AnthropicKey} {
		if key != "" {
			names = append(names, name)
		}
	}
	for _, p := range c.Providers {
		names = append(names, p.Name)
	}
	return names
}

// demoReason says whether the demo provider is on and why.
func (c *Config) demoReason() (on bool, why string) {
	switch {
	case c.Demo != nil && *c.Demo:
		return true, "LLMBRIDGE_DEMO=true"
	case c.Demo != nil:
		return false, "LLMBRIDGE_DEMO=false"
	case len(c.configuredProviders()) == 0:
		return true, "no provider is configured (no provider key, no LLMBRIDGE_CONFIG provider)"
	}
	return false, "a provider is configured"
}

// checkLocal validates the demo and discovery settings.
func (c *Config) checkLocal() error {
	var errs []error
	if c.DemoDelay < 0 {
		errs = append(errs, fmt.Errorf("LLMBRIDGE_DEMO_DELAY must not be negative, got %v", c.DemoDelay))
	}
	if c.OllamaBaseURL != "" {
		if u, err := url.Parse(c.OllamaBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("OLLAMA_BASE_URL must be an absolute http(s) URL such as http://127.0.0.1:11434"))
		}
	}
	return errors.Join(errs...)
}

// extras are the providers the server adds by itself: local model servers
// found at start and the demo. Its zero value is ready; it lives as long
// as the server, across reloads.
type extras struct {
	mu      sync.Mutex
	probed  bool
	found   []foundServer
	demos   map[time.Duration]*llmbridge.DemoProvider // by delay; closed at shutdown
	demoLog string                                    // what was last said about the demo
}

// options returns the Bridge options for the extra providers under cfg,
// probing cands the first time it is called (start-up) and logging what it
// found, and the demo's state when it changes. A configured provider of
// the same name wins over a found server or the demo.
func (e *extras) options(ctx context.Context, cfg *Config, cands []localCandidate, tokens *llmbridge.TokenCounter, log *slog.Logger) []llmbridge.Option {
	e.mu.Lock()
	defer e.mu.Unlock()
	configured := cfg.configuredProviders()
	first := !e.probed
	if first {
		e.probed = true
		if !cfg.DiscoverLocal {
			log.Info("local model discovery is off (LLMBRIDGE_DISCOVER_LOCAL=false)")
		}
		e.found = discover(ctx, cfg.localCandidates(cands), log)
	}
	var opts []llmbridge.Option
	for _, f := range e.found {
		if slices.Contains(configured, f.name) {
			if first {
				log.Info("local model server found but not added: a configured provider has its name", "provider", f.name, "url", f.baseURL)
			}
			continue
		}
		if first {
			log.Info("local model server found; its models are served under its prefix only", "provider", f.name, "url", f.baseURL,
				"models", len(f.models), "list", strings.Join(f.models, ","))
		}
		// Whatever listens on a well-known port is trusted with nothing but
		// its own prefix: a bare name ("claude-opus-4-8") never goes to it.
		opts = append(opts, llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: f.name, BaseURL: f.baseURL, Models: f.models}),
			llmbridge.PrefixOnly()))
	}
	on, why := cfg.demoReason()
	if on && slices.Contains(configured, "demo") {
		on, why = false, "a configured provider is named demo"
	}
	if state := fmt.Sprint(on, why); state != e.demoLog {
		e.demoLog = state
		if on {
			off := "set LLMBRIDGE_DEMO=false, or add a provider key to .env"
			if cfg.Demo != nil {
				off = "unset LLMBRIDGE_DEMO or set it to false"
			}
			log.Info("demo provider is on: demo/echo echoes your last message back (no real model; demo/error-429 and demo/error-500 answer errors)",
				"why", why, "turn_off", off)
		} else if !first {
			log.Info("demo provider is off", "why", why)
		}
	}
	if on {
		if e.demos == nil {
			e.demos = map[time.Duration]*llmbridge.DemoProvider{}
		}
		d := e.demos[cfg.DemoDelay]
		if d == nil {
			d = llmbridge.Demo(llmbridge.DemoConfig{Delay: cfg.DemoDelay, Tokens: tokens})
			e.demos[cfg.DemoDelay] = d
		}
		opts = append(opts, llmbridge.WithProvider(d))
	}
	return opts
}

// close stops the demo providers' upstreams; call it when no Bridge
// serves any more.
func (e *extras) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, d := range e.demos {
		_ = d.Close()
	}
	e.demos = nil
}
