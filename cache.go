package llmbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unique"

	"github.com/llmbridge/llmbridge/internal/cache/codec"
	"github.com/llmbridge/llmbridge/internal/openai"
)

// Cache is the store behind the response cache (WithCache). The Bridge
// encodes and decodes the values itself; a Cache keeps opaque bytes.
//
// Get returns the value stored under key and whether there was one. Set
// stores value under key for ttl (always > 0), replacing any value there.
// Both run on the request path with a context that ends after the
// Bridge's budget of 50 ms (CacheBudget): an implementation returns as soon
// as ctx is done. Nothing a Cache does fails a request: an error or a
// timeout from Get is a miss, from Set a value not stored; the Bridge logs
// them at debug level (an implementation that talks to a server logs an
// outage itself, once). Implementations must be safe for concurrent use.
// The Bridge never modifies a value got from Get, nor one passed to Set (a
// Cache may keep it) unless the Cache has CopiesValues() bool, reporting true.
type Cache interface {
	Get(ctx context.Context, key CacheKey) (value []byte, ok bool, err error)
	Set(ctx context.Context, key CacheKey, value []byte, ttl time.Duration) error
}

// LocalCache is implemented by a Cache that answers from the process's
// own memory without blocking (the server's memory cache): when Local
// reports true, the Bridge calls its Get and Set with the request's
// context, without the CacheBudget timer, which costs more than a lookup.
type LocalCache interface {
	Cache
	// Local reports whether Get and Set return at once, with no I/O.
	Local() bool
}

// CacheBudget bounds each Get and Set of a Cache (see Cache).
const CacheBudget = 50 * time.Millisecond

// CacheKey names one cached answer. Scope and Model are given apart from
// Hash so a backend can remove the answers of one model or one key
// (DELETE /admin/api/cache); Hash alone identifies the answer.
type CacheKey struct {
	// Scope is the caller's KeyID under a per-key policy, so one key's
	// answers are never served to another; "" when the policy is shared
	// (CachePolicy.Shared) or the caller is anonymous.
	Scope string
	// Model is the model (or route) the client asked for, before routing.
	Model string
	// Hash is the hex SHA-256 over the canonical request, the client
	// format, Model, Scope and the client headers that reach the upstream
	// (see WithCache).
	Hash string
}

// CachePolicy says which requests the response cache answers and stores.
type CachePolicy struct {
	// TTL is how long an answer is kept; 0 means DefaultCacheTTL.
	TTL time.Duration
	// Models lists the models (as the client names them: "openai/gpt-4o",
	// or a route such as "smart") whose answers are cached. An entry
	// ending in "*" matches every model starting with what precedes it
	// ("openai/*", "*"). Empty caches every model.
	Models []string
	// MaxValueBytes is the largest encoded answer stored; larger answers
	// are served but not kept. 0 means DefaultCacheMaxValueBytes.
	MaxValueBytes int
	// Shared shares answers between callers: by default (false) the key
	// includes the caller's KeyID, so one access or virtual key's answer
	// is never served to another. Under either scope the key includes the
	// client's request headers that the bridge forwards upstream and that
	// change the answer (anthropic-version, anthropic-beta: see WithCache),
	// so callers that differ in them never share an answer.
	Shared bool
	// Nondeterministic caches requests that sample (temperature absent or
	// above 0: the providers' default temperature is 1). By default only
	// requests with temperature 0 are cached.
	Nondeterministic bool
}

// Defaults of CachePolicy.
const (
	DefaultCacheTTL           = time.Hour
	DefaultCacheMaxValueBytes = 1 << 20
)

// The result of the cache stage for a request, in UsageRecord.Cache.
const (
	// CacheHit: answered from the cache; no upstream was called.
	CacheHit = "hit"
	// CacheMiss: looked up and not found (or older than the client's
	// max-age); the answer may have been stored.
	CacheMiss = "miss"
	// CacheBypass: the cache did not apply: the model is not cached, the
	// request samples, asks for several choices, or said Cache-Control:
	// no-cache (the answer is still stored) or no-store.
	CacheBypass = "bypass"
)

// WithCache turns on the response cache: exact repeats of a request are
// answered from c without calling the upstream, for the models and
// requests p allows.
//
// The key is the SHA-256 over the canonical request (its JSON with object
// members sorted, no insignificant whitespace, strings in one escaping;
// stream, stream_options, user and metadata removed, as they do not change
// the answer), the client's format, the model, the caller's scope
// (CacheKey) and the values of the client's request headers that a
// pass-through forwards upstream, which change what the upstream answers:
// anthropic-version and anthropic-beta (a Messages client's beta features
// and API version). A streamed and a non-streamed request share an answer: a
// hit is replayed in the mode and format the client asked for (a
// well-formed SSE stream, with the original usage), converted when it
// was stored in the other mode. Only clean answers are stored: never
// errors, streams that did not complete, answers cut for length or
// withheld by a content filter, requests with n > 1, or (unless
// p.Nondeterministic) requests that sample.
//
// The request's Cache-Control header is honoured: no-cache skips the
// lookup (the answer is still stored), no-store skips both, max-age=N
// accepts only answers stored at most N seconds ago. Handler responses
// carry X-Cache: HIT, MISS or BYPASS, and Age on hits. A hit's
// UsageRecord has Cache CacheHit, zero token counts (nothing was spent)
// and the cached answer's counts in Saved, Provider and UpstreamModel
// naming who made it.
func WithCache(c Cache, p CachePolicy) Option {
	return func(cfg *config) error {
		var errs []error
		if c == nil {
			errs = append(errs, errors.New("WithCache: nil cache"))
		}
		if p.TTL < 0 || p.MaxValueBytes < 0 {
			errs = append(errs, fmt.Errorf("WithCache: TTL (%v) and MaxValueBytes (%d) must not be negative", p.TTL, p.MaxValueBytes))
		}
		for _, m := range p.Models {
			if m == "" || strings.Contains(strings.TrimSuffix(m, "*"), "*") {
				errs = append(errs, fmt.Errorf("WithCache: model pattern %q: want a name, or a prefix ending in a single *", m))
			}
		}
		if p.TTL == 0 {
			p.TTL = DefaultCacheTTL
		}
		if p.MaxValueBytes == 0 {
			p.MaxValueBytes = DefaultCacheMaxValueBytes
		}
		p.Models = append([]string(nil), p.Models...)
		lc, ok := c.(LocalCache)
		cfg.cache = &responseCache{c: c, p: p, local: ok && lc.Local()}
		return errors.Join(errs...)
	}
}

// responseCache is a Bridge's cache and policy.
type responseCache struct {
	c     Cache
	p     CachePolicy
	local bool // a LocalCache: no budget timer
}

// budget is the context of one Get or Set: the call's (not cancelled
// with it: a Set runs after the answer went out) with the CacheBudget
// deadline, unless the cache is local.
func (rc *responseCache) budget(parent context.Context) (context.Context, context.CancelFunc) {
	if rc.local {
		return parent, func() {}
	}
	return context.WithTimeout(context.WithoutCancel(parent), CacheBudget)
}

// covers reports whether model's answers are cached.
func (rc *responseCache) covers(model string) bool {
	if len(rc.p.Models) == 0 {
		return true
	}
	for _, m := range rc.p.Models {
		if prefix, ok := strings.CutSuffix(m, "*"); ok && strings.HasPrefix(model, prefix) || m == model {
			return true
		}
	}
	return false
}

// cacheControl is what the cache honours of a request's Cache-Control.
type cacheControl struct {
	noCache, noStore bool
	maxAge           time.Duration // < 0: none given
}

// parseCacheControl reads the directives no-cache, no-store and
// max-age=N; unknown ones are ignored, a malformed max-age is none.
func parseCacheControl(h string) cacheControl {
	cc := cacheControl{maxAge: -1}
	for d := range strings.SplitSeq(h, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "no-cache":
			cc.noCache = true
		case "no-store":
			cc.noStore = true
		case "max-age":
			if n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64); err == nil && n >= 0 {
				cc.maxAge = time.Duration(min(n, 1<<32)) * time.Second
			}
		}
	}
	return cc
}

// cached is the cache stage: between validation and the router it
// answers a hit from the cache (reporting true), or, for a miss that may
// be stored, replaces *out with an output that stores the answer on its
// way to the client.
func (c *call) cached(out *output) bool {
	rc := c.b.cfg.cache
	if rc == nil {
		return false
	}
	if _, ok := c.f.(uncachedFormat); ok {
		return false
	}
	cc := parseCacheControl(c.req.Header.Get("Cache-Control")) // a nil Header has none
	if cc.noStore || !rc.covers(c.env.model) || !c.deterministic(rc.p.Nondeterministic) {
		c.rec.Cache = CacheBypass
		(*out).setHeader("X-Cache", "BYPASS")
		return false
	}
	key, ok := c.cacheKey(rc.p.Shared)
	if !ok {
		return false
	}
	c.rec.Cache = CacheBypass
	if !cc.noCache {
		if e, age, ok := c.lookup(rc, key, cc.maxAge); ok {
			c.rec.Cache = CacheHit
			(*out).setHeader("X-Cache", "HIT")
			(*out).setHeader("Age", strconv.FormatInt(int64(age/time.Second), 10))
			c.replay(*out, e)
			return true
		}
		c.rec.Cache = CacheMiss
	}
	// A header of its own for every response (setHeader's new slice):
	// nothing shared that a later writer could change.
	v := "BYPASS"
	if c.rec.Cache == CacheMiss {
		v = "MISS"
	}
	(*out).setHeader("X-Cache", v)
	*out = &cacheRecorder{output: *out, rc: rc, key: key}
	return false
}

// deterministic reports whether the request's answer may be cached by
// its sampling: n at most 1, and temperature 0 unless nondeterministic
// answers are allowed.
func (c *call) deterministic(nondeterministic bool) bool {
	sp := c.env.sampling
	switch {
	case sp.read: // the format's parse read them: no second reading
	case len(c.body) > 0:
		sp = bodySampling(c.body)
	case c.chat != nil:
		sp = chatSampling(c.chat)
	}
	n := int64(1)
	if sp.hasN {
		n = sp.n
	}
	return n <= 1 && (nondeterministic || sp.hasTemp && sp.temp <= 0)
}

// cacheKey builds the request's key: codec.Hash of the format, the
// model, the scope, the forwarded headers and the canonical request.
func (c *call) cacheKey(shared bool) (CacheKey, bool) {
	body := c.body
	if body == nil {
		b, err := openai.Marshal(c.chat)
		if err != nil {
			return CacheKey{}, false
		}
		body = b
	}
	// The model is a substring of a copy of the whole request: interned
	// (a copy, shared by every key of that model), so a stored key does
	// not keep the request alive in a memory cache.
	k := CacheKey{Model: unique.Make(c.env.model).Value()}
	if !shared {
		k.Scope = c.rec.KeyID
	}
	k.Hash = codec.Hash(c.f.name(), k.Model, k.Scope, c.req.Header, body)
	return k, true
}

// lookup gets and decodes the answer under key, if it is there and no
// older than maxAge (when >= 0). Any failure is a miss.
func (c *call) lookup(rc *responseCache, key CacheKey, maxAge time.Duration) (*codec.Entry, time.Duration, bool) {
	ctx, cancel := rc.budget(c.parent)
	defer cancel()
	v, ok, err := rc.c.Get(ctx, key)
	if err != nil {
		c.b.log.Debug("cache get failed: a miss", "request_id", c.rec.RequestID, "error", err)
		return nil, 0, false
	}
	if !ok || len(v) > rc.p.MaxValueBytes {
		return nil, 0, false // none, or larger than any value the bridge stores: not read
	}
	e, err := codec.Decode(v)
	if err != nil {
		c.b.log.Debug("cache value does not decode: a miss", "request_id", c.rec.RequestID, "error", err)
		return nil, 0, false
	}
	if e.Format != "" && (e.Format != c.f.name() || c.env.stream && len(e.Events) == 0) {
		// A native body cannot be replayed as a stream (no encoder makes
		// its events): a miss, whose stream then replaces it.
		return nil, 0, false
	}
	age := max(c.b.clock.Now().Sub(time.UnixMilli(e.Stored)), 0)
	if maxAge >= 0 && age > maxAge {
		return nil, 0, false
	}
	return e, age, true
}

// replay answers from a cached entry in the client's mode and format. The
// record names who made the answer and keeps its usage in Saved; its own
// token counts stay zero: nothing was spent.
func (c *call) replay(out output, e *codec.Entry) {
	c.rec.Provider, c.rec.UpstreamModel = e.Provider, e.UpstreamModel
	raw := e.RawUsage()
	if raw != nil {
		n := openai.UsageCounts(raw)
		c.rec.Saved = TokenCounts{Prompt: n.Prompt, Completion: n.Completion, Total: n.Total, Cached: n.Cached, Reasoning: n.Reasoning, CacheWrite: n.CacheWrite}
	}
	c.observeStart()
	defer func() { c.usage, c.rawUsage, c.text, c.textMore = nil, nil, nil, 0 }()
	if _, h := out.(*httpOutput); h && !c.env.stream && c.f.name() == "chat" {
		if j, ok := e.Joined(); ok && out.replay(c, j) { // an in-process caller gets typed values
			return // a stored stream replayed as the body its raw chunks join into
		}
	}
	if out.replay(c, e) {
		return // the client's format replayed its own wire
	}
	if e.Format != "" {
		out.fail(c, c.ownError("cache", fmt.Errorf("a %s entry replayed to %s", e.Format, c.f.name())))
		return
	}
	if _, ok := c.f.(callDecoder); ok {
		c.request() // the format's encoders need its per-call state (Responses echoes the request)
	}
	if raw != nil {
		c.usage = new(Usage)
		if err := json.Unmarshal(raw, c.usage); err != nil {
			c.usage = nil
		}
	}
	if !c.env.stream {
		r, err := e.DecodeResponse()
		if err != nil {
			out.fail(c, c.ownError("cache", err))
			return
		}
		out.response(c, r)
		return
	}
	chunks, err := e.DecodeChunks()
	if err != nil {
		out.fail(c, c.ownError("cache", err))
		return
	}
	enc := out.stream(c, &http.Response{Body: http.NoBody})
	for _, ch := range chunks {
		if err = enc.chunk(ch); err != nil {
			break
		}
	}
	enc.end(err)
}
