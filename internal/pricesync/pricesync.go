// Package pricesync keeps the server's price table current: a JSON price
// list (LiteLLM's model_prices_and_context_window.json or models.dev's
// api.json) fetched from LLMBRIDGE_PRICES_URL at start and every
// LLMBRIDGE_PRICES_REFRESH, checked (bounded size, sane numbers, the
// whole list or nothing: Parse) and saved atomically to a cache file so an
// offline start has the last good table. A failed fetch keeps the last
// good table and is logged once until a fetch succeeds again. The server
// merges the synced table over the built-in one and under the YAML
// file's prices, reading it from the cache file (Load) whenever it
// (re)loads its configuration, and reloads when the file changes.
package pricesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/llmbridge/llmbridge/internal/usage"
)

// MaxBytes bounds a price list (LiteLLM's is about 1.5 MB, models.dev's a
// few MB).
const MaxBytes = 32 << 20

// StaleAfter is the age of a list (its Last-Modified) past which a fetch
// logs that the source looks stale.
const StaleAfter = 90 * 24 * time.Hour

// Settings are the variables of price sync (caarlos0/env tags); with URL
// empty it is off and the built-in prices stand.
type Settings struct {
	// URL is the price list's; empty turns sync off.
	URL string `env:"LLMBRIDGE_PRICES_URL"`
	// Refresh is how often the list is fetched again (at least 1m).
	Refresh time.Duration `env:"LLMBRIDGE_PRICES_REFRESH" envDefault:"24h"`
	// CacheFile keeps the last good table for offline starts.
	CacheFile string `env:"LLMBRIDGE_PRICES_CACHE" envDefault:"data/prices.json"`

	synced usage.Prices // read from CacheFile by Load
}

// cacheEntry is the cache file: the checked table and where it came from.
type cacheEntry struct {
	URL       string       `json:"url"`
	FetchedAt time.Time    `json:"fetched_at"`
	ETag      string       `json:"etag,omitempty"`
	Modified  string       `json:"last_modified,omitempty"`
	Prices    usage.Prices `json:"prices"`
}

// Check reports settings that cannot work.
func (s *Settings) Check() error {
	if s.URL == "" {
		return nil
	}
	if s.Refresh < time.Minute {
		return fmt.Errorf("LLMBRIDGE_PRICES_REFRESH must be at least 1m, got %s", s.Refresh)
	}
	if s.CacheFile == "" {
		return errors.New("LLMBRIDGE_PRICES_CACHE must name a file when LLMBRIDGE_PRICES_URL is set")
	}
	return nil
}

// Load checks the settings (Check, whose error it returns) and reads the
// synced table from the cache file, if price sync is on and the file
// holds a table of the configured URL that still checks; otherwise the
// synced table is empty (the built-in prices stand).
func (s *Settings) Load() error {
	s.synced = nil
	if s.URL == "" {
		return nil
	}
	if c, err := readCache(s.CacheFile); err == nil && c.URL == s.URL {
		s.synced = c.Prices
	}
	return s.Check()
}

// Prices is the synced table Load read; nil without one.
func (s *Settings) Prices() usage.Prices { return s.synced }

func readCache(path string) (*cacheEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var c cacheEntry
	if err := json.NewDecoder(io.LimitReader(f, 4*MaxBytes)).Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(c.Prices) == 0 {
		return nil, fmt.Errorf("%s: no prices", path)
	}
	if err := c.Prices.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// Syncer fetches the price list on a schedule; build it with Start.
type Syncer struct {
	s      Settings
	client *http.Client
	log    *slog.Logger
	after  func(time.Duration) <-chan time.Time
	now    func() time.Time

	mu      sync.Mutex
	last    *cacheEntry // the last good table
	failing bool        // the last fetch failed (logged once)

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Syncer for s that fetches with client (nil:
// http.DefaultClient) and logs to log; it has read the cache file.
func New(s Settings, client *http.Client, log *slog.Logger) *Syncer {
	if client == nil {
		client = http.DefaultClient
	}
	y := &Syncer{s: s, client: client, log: log, after: time.After, now: time.Now}
	if c, err := readCache(s.CacheFile); err == nil && c.URL == s.URL {
		y.last = c
	}
	return y
}

// Start fetches at once and then every Refresh, in a goroutine, until
// Stop; with sync off it does nothing. It returns y.
func (y *Syncer) Start() *Syncer {
	if y.s.URL == "" {
		return y
	}
	ctx, cancel := context.WithCancel(context.Background())
	y.cancel = cancel
	y.wg.Go(func() {
		for {
			fctx, done := context.WithTimeout(ctx, time.Minute)
			_ = y.Sync(fctx)
			done()
			select {
			case <-ctx.Done():
				return
			case <-y.after(y.s.Refresh):
			}
		}
	})
	return y
}

// Stop ends the schedule and waits for a fetch in progress.
func (y *Syncer) Stop() {
	if y.cancel != nil {
		y.cancel()
	}
	y.wg.Wait()
}
