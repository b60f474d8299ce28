package models

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Source is a provider whose upstream lists the models it serves
// (OpenAI's GET /models, Anthropic's GET /v1/models, Gemini's
// models.list). It only translates; the Catalog sends the requests and
// reads the answers. Implementations must be safe for concurrent use.
type Source interface {
	// NewModelsRequest builds the request for one page of the list,
	// carrying the provider's key: page is "" for the first page, else
	// the cursor the previous page's DecodeModels returned.
	NewModelsRequest(ctx context.Context, page string) (*http.Request, error)
	// DecodeModels reads one page of a 2xx answer: the model ids, as a
	// client would send them, and the cursor of the next page ("" at the
	// end). A body that is not the upstream's list format is an error.
	DecodeModels(body []byte) (ids []string, next string, err error)
}

// Upstream is one provider as the Catalog sees it.
type Upstream struct {
	Name string
	// Sources are the provider's list sources, one per key, tried in
	// order while one is refused (401/403); none: it publishes no list.
	Sources []Source
	// Client sends the requests: the provider's own, with its transport,
	// proxy and timeouts, and no redirects followed.
	Client *http.Client
	// Secrets are removed from every error text the Catalog logs.
	Secrets []string
	// PrefixOnly keeps the provider's live names out of Serving: they are
	// listed, but a bare name never resolves to it.
	PrefixOnly bool
}

// Defaults of Options.
const (
	DefaultEvery    = time.Hour
	DefaultTimeout  = 30 * time.Second
	DefaultMaxBytes = 8 << 20
	maxPages        = 100    // a cursor that never ends is an upstream bug
	maxModels       = 10_000 // per provider; the largest real lists hold hundreds
)

// Options configure a Catalog; zero fields take the defaults.
type Options struct {
	Every    time.Duration // between two fetches of every list
	Timeout  time.Duration // bounds each page's request, body included
	MaxBytes int64         // the largest page body read
	Logger   *slog.Logger  // nil: discard
	// OnChange is called after a provider's list changed, on the
	// goroutine that fetched it (never concurrently with itself).
	OnChange func()
	// Initial are lists to start with, by upstream name (a previous
	// Catalog's Lists), until the upstream's own fetch answers.
	Initial map[string][]string
}

// Catalog holds the last good model list of each upstream and refreshes
// them in the background (Start) until Close. Reads (List, Serving) are
// one atomic load and never wait for a fetch. It is safe for concurrent
// use.
type Catalog struct {
	ups  []Upstream
	o    Options
	snap atomic.Pointer[snapshot]

	mu      sync.Mutex // serialises publishing and OnChange; guards failing
	failing []bool     // the provider's last fetch failed (logged once)

	startOnce, closeOnce sync.Once
	cancel               context.CancelFunc
	done                 chan struct{}
}

// snapshot is one consistent view of the lists.
type snapshot struct {
	lists   [][]string       // by upstream; nil: no good fetch yet
	serving map[string][]int // live name → the routable upstreams listing it
}

// New returns a Catalog of ups with no lists yet.
func New(ups []Upstream, o Options) *Catalog {
	if o.Every <= 0 {
		o.Every = DefaultEvery
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Catalog{ups: ups, o: o, failing: make([]bool, len(ups)), done: make(chan struct{})}
	lists := make([][]string, len(ups))
	for i, up := range ups {
		if len(up.Sources) > 0 {
			lists[i] = o.Initial[up.Name]
		}
	}
	c.snap.Store(c.index(lists))
	return c
}

// index builds the snapshot of lists.
func (c *Catalog) index(lists [][]string) *snapshot {
	s := &snapshot{lists: lists, serving: map[string][]int{}}
	for j, list := range lists {
		if c.ups[j].PrefixOnly {
			continue
		}
		for _, id := range list {
			s.serving[id] = append(s.serving[id], j)
		}
	}
	return s
}

// Lists returns the last good list of every upstream that has one, by
// name: Options.Initial of the Catalog that replaces this one.
func (c *Catalog) Lists() map[string][]string {
	out := map[string][]string{}
	for i, l := range c.snap.Load().lists {
		if l != nil {
			out[c.ups[i].Name] = l
		}
	}
	return out
}

// Start fetches every list at once in the background, then every
// Options.Every, until Close. It returns at once; calling it again does
// nothing.
func (c *Catalog) Start() {
	c.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		c.cancel = cancel
		go c.run(ctx)
	})
}

func (c *Catalog) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.o.Every)
	defer t.Stop()
	for {
		c.Refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops the refreshing started by Start, cancelling a fetch in
// flight, and waits for it to end. The lists stay readable.
func (c *Catalog) Close() {
	c.closeOnce.Do(func() {
		started := false
		c.startOnce.Do(func() {}) // a Start after Close does nothing
		if c.cancel != nil {
			c.cancel()
			started = true
		}
		if started {
			<-c.done
		}
	})
}

// Refresh fetches every upstream's list now, at once, and returns when
// all are done; a failure keeps that upstream's last good list. It
// returns the failures, each naming its provider (keys redacted).
func (c *Catalog) Refresh(ctx context.Context) error {
	errs := make([]error, len(c.ups))
	var wg sync.WaitGroup
	for i, up := range c.ups {
		if len(up.Sources) == 0 {
			continue
		}
		wg.Go(func() {
			ids, err := c.fetch(ctx, up)
			errs[i] = c.publish(i, ids, err)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// List returns upstream i's last good list (nil before the first). The
// slice is shared: do not modify it.
func (c *Catalog) List(i int) []string { return c.snap.Load().lists[i] }

// Serving returns the upstreams not PrefixOnly whose last good list names
// name, in upstream order. The slice is shared: do not modify it.
func (c *Catalog) Serving(name string) []int { return c.snap.Load().serving[name] }

// publish records the outcome of upstream i's fetch: a new list replaces
// the old one; a failure keeps it and is logged once until a fetch
// succeeds again. It returns the failure with the provider's name.
func (c *Catalog) publish(i int, ids []string, err error) error {
	up := c.ups[i]
	c.mu.Lock()
	defer c.mu.Unlock()
	log := c.o.Logger
	if err != nil {
		err = fmt.Errorf("provider %s: model list: %s", up.Name, redact(err, up.Secrets))
		if !c.failing[i] {
			c.failing[i] = true
			log.Warn("model list fetch failed; keeping the last good list (said once until it recovers)", "provider", up.Name, "err", err)
		} else {
			log.Debug("model list fetch failed again", "provider", up.Name, "err", err)
		}
		return err
	}
	if c.failing[i] {
		c.failing[i] = false
		log.Info("model list fetched again", "provider", up.Name, "models", len(ids))
	}
	old := c.snap.Load()
	switch {
	case old.lists[i] == nil:
		log.Info("model list fetched from the upstream", "provider", up.Name, "models", len(ids))
	case slices.Equal(old.lists[i], ids):
		return nil
	default:
		log.Debug("model list changed", "provider", up.Name, "models", len(ids))
	}
	lists := slices.Clone(old.lists)
	lists[i] = ids
	c.snap.Store(c.index(lists))
	if c.o.OnChange != nil {
		c.o.OnChange()
	}
	return nil
}

// fetch reads up's whole list from its first source that is not refused.
func (c *Catalog) fetch(ctx context.Context, up Upstream) ([]string, error) {
	var err error
	for _, src := range up.Sources {
		var ids []string
		if ids, err = c.fetchFrom(ctx, up.Client, src); err == nil {
			return ids, nil
		}
		var se statusError
		if !errors.As(err, &se) || (se != http.StatusUnauthorized && se != http.StatusForbidden) {
			break // only a refused key is worth another key
		}
	}
	return nil, err
}

// fetchFrom reads every page of src's list: valid ids (validName), each
// once, in the upstream's order.
func (c *Catalog) fetchFrom(ctx context.Context, client *http.Client, src Source) ([]string, error) {
	var ids []string
	seen := map[string]bool{}
	pages := map[string]bool{"": true}
	page := ""
	for range maxPages {
		got, next, err := c.page(ctx, client, src, page)
		if err != nil {
			return nil, err
		}
		for _, id := range got {
			if validName(id) && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		if len(ids) > maxModels {
			return nil, fmt.Errorf("the list names more than %d models", maxModels)
		}
		if next == "" {
			if ids == nil {
				ids = []string{} // fetched, and empty
			}
			return ids, nil
		}
		if pages[next] {
			return nil, errors.New("the list's page cursor repeats")
		}
		pages[next] = true
		page = next
	}
	return nil, fmt.Errorf("the list has more than %d pages", maxPages)
}

// statusError is a list request answered with a non-2xx status.
type statusError int

func (e statusError) Error() string {
	if e/100 == 3 {
		return fmt.Sprintf("answered %d (a redirect, never followed)", int(e))
	}
	return fmt.Sprintf("answered %d", int(e))
}

// page fetches and decodes one page.
func (c *Catalog) page(ctx context.Context, client *http.Client, src Source, page string) ([]string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	req, err := src.NewModelsRequest(ctx, page)
	if err != nil {
		return nil, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, "", statusError(resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.o.MaxBytes+1))
	if err != nil {
		return nil, "", err
	}
	if int64(len(body)) > c.o.MaxBytes {
		return nil, "", fmt.Errorf("a page of the list is larger than %d bytes", c.o.MaxBytes)
	}
	return src.DecodeModels(body)
}

// redact is err's text for a log: without the URL a *url.Error adds (a
// base URL may carry a key= parameter), without secrets, at most 300
// bytes.
func redact(err error, secrets []string) string {
	text := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		text = ue.Op + ": " + ue.Err.Error()
	}
	for _, s := range secrets {
		if s != "" {
			text = strings.ReplaceAll(text, s, "[redacted]")
		}
	}
	if len(text) > 300 {
		text = text[:300]
	}
	return text
}
