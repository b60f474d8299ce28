package pricesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/renameio/v2"
)

// Sync fetches the price list once (conditionally: a 304 keeps the table),
// checks it and, when it is good and differs, saves it to the cache file.
// A failure keeps the last good table; it is logged when a run of
// failures starts, and the return of success is logged too.
func (y *Syncer) Sync(ctx context.Context) error {
	c, err := y.fetch(ctx)
	if err == nil && c != nil {
		err = y.save(c)
	}
	y.mu.Lock()
	defer y.mu.Unlock()
	switch {
	case err != nil && !y.failing:
		y.log.Warn("price sync failed; keeping the last good prices", "url", y.s.URL, "err", err, "have", y.lastAt())
	case err == nil && y.failing:
		y.log.Info("price sync works again", "url", y.s.URL)
	}
	y.failing = err != nil
	if err == nil && c != nil {
		y.last = c
		y.log.Info("prices synced", "url", y.s.URL, "models", len(c.Prices))
	}
	return err
}

func (y *Syncer) lastAt() string {
	if y.last == nil {
		return "built-in prices only"
	}
	return "prices fetched " + y.last.FetchedAt.Format(time.RFC3339)
}

// fetch gets and checks the list; nil without error when it has not
// changed since the last good one.
func (y *Syncer) fetch(ctx context.Context) (*cacheEntry, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, y.s.URL, nil)
	if err != nil {
		return nil, err
	}
	y.mu.Lock()
	if l := y.last; l != nil {
		if l.ETag != "" {
			req.Header.Set("If-None-Match", l.ETag)
		}
		if l.Modified != "" {
			req.Header.Set("If-Modified-Since", l.Modified)
		}
	}
	y.mu.Unlock()
	resp, err := y.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxBytes {
		return nil, errors.New("the price list is over " + strconv.Itoa(MaxBytes>>20) + " MiB")
	}
	now := y.now()
	asOf := now
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil && t.Before(now) {
		asOf = t
		if now.Sub(t) > StaleAfter {
			y.log.Warn("the price list looks stale", "url", y.s.URL, "last_modified", t.Format(time.DateOnly))
		}
	}
	p, skipped, err := Parse(body, y.s.URL, asOf)
	if err != nil {
		return nil, err
	}
	if skipped > 0 {
		y.log.Warn("price list: insane prices left out", "url", y.s.URL, "skipped", skipped)
	}
	return &cacheEntry{URL: y.s.URL, FetchedAt: now, ETag: resp.Header.Get("ETag"), Modified: resp.Header.Get("Last-Modified"), Prices: p}, nil
}

// save writes c to the cache file atomically (a reader sees the old file
// or the new one, whole).
func (y *Syncer) save(c *cacheEntry) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(y.s.CacheFile), 0o700); err != nil {
		return fmt.Errorf("price cache: %w", err)
	}
	if err := renameio.WriteFile(y.s.CacheFile, b, 0o600); err != nil {
		return fmt.Errorf("price cache: %w", err)
	}
	return nil
}
