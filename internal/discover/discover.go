// Package discover finds the model servers running beside the bridge —
// Ollama, LM Studio, vLLM and llama.cpp on their usual loopback ports, or
// the Ollama that OLLAMA_BASE_URL names — and decides whether the demo
// provider is on. Extras turns both into Bridge options; the server adds
// them to every Bridge it builds.
package discover

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

	"github.com/tidwall/gjson"
)

// Probe timeouts: the well-known loopback addresses must answer quickly
// (start-up waits for them); an OLLAMA_BASE_URL the user set may be
// another machine and gets longer.
const (
	localProbeTimeout    = 300 * time.Millisecond
	explicitProbeTimeout = 2 * time.Second
)

// Candidate is an address where an OpenAI-compatible model server may be
// listening.
type Candidate struct {
	Name    string        // provider name it is added as: ollama, lmstudio, local
	BaseURL string        // the API root; GET {BaseURL}/models is probed
	Timeout time.Duration // how long the probe waits; 0: 300 ms
}

// WellKnown returns the loopback addresses the usual local model servers
// listen on. The server probes them; tests pass their own.
func WellKnown() []Candidate {
	return []Candidate{
		{"ollama", "http://127.0.0.1:11434/v1", localProbeTimeout},
		{"lmstudio", "http://127.0.0.1:1234/v1", localProbeTimeout},
		{"local", "http://127.0.0.1:8000/v1", localProbeTimeout}, // vLLM
		{"local", "http://127.0.0.1:8080/v1", localProbeTimeout}, // llama.cpp
	}
}

// Candidates are the candidates s asks for: none when discovery is off;
// otherwise defaults, with s.OllamaBaseURL (a "/v1" appended when
// missing, as Ollama's own variable names the server root) in place of
// Ollama's.
func Candidates(s Settings, defaults []Candidate) []Candidate {
	if !s.Discover {
		return nil
	}
	out := slices.Clone(defaults)
	if s.OllamaBaseURL == "" {
		return out
	}
	base := strings.TrimRight(s.OllamaBaseURL, "/")
	if !strings.HasSuffix(base, "/v1") {
		base += "/v1"
	}
	out = slices.DeleteFunc(out, func(c Candidate) bool { return c.Name == "ollama" })
	return append([]Candidate{{"ollama", base, explicitProbeTimeout}}, out...)
}

// CheckOllamaBaseURL reports whether u can be OLLAMA_BASE_URL: an
// absolute http(s) URL.
func CheckOllamaBaseURL(u string) error {
	if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return errors.New("OLLAMA_BASE_URL must be an absolute http(s) URL such as http://127.0.0.1:11434")
	}
	return nil
}

// Server is a local model server that answered.
type Server struct {
	Name, BaseURL string
	Models        []string
}

// Probe asks every candidate at once and returns those that answer GET
// /models with an OpenAI model list, in candidate order. A later
// candidate with a name already found is named name-port ("local-8080").
// Misses are logged at debug level.
func Probe(ctx context.Context, cands []Candidate, log *slog.Logger) []Server {
	tr := &http.Transport{Proxy: nil, DialContext: (&net.Dialer{}).DialContext} // each probe has its own deadline
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	results := make([]*Server, len(cands))
	var wg sync.WaitGroup
	for i, c := range cands {
		wg.Go(func() {
			models, err := probe(ctx, client, c)
			if err != nil {
				log.Debug("no local model server", "url", c.BaseURL, "err", err)
				return
			}
			results[i] = &Server{Name: c.Name, BaseURL: c.BaseURL, Models: models}
		})
	}
	wg.Wait()
	var out []Server
	for _, f := range results {
		if f == nil {
			continue
		}
		if slices.ContainsFunc(out, func(o Server) bool { return o.Name == f.Name }) {
			if u, err := url.Parse(f.BaseURL); err == nil && u.Port() != "" {
				f.Name += "-" + u.Port()
			}
		}
		out = append(out, *f)
	}
	return out
}

// probe asks c for its model list.
func probe(ctx context.Context, client *http.Client, c Candidate) ([]string, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = localProbeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+"/models", nil)
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
	return modelIDs(body)
}

// modelIDs reads an OpenAI model list's ids.
func modelIDs(body []byte) ([]string, error) {
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
