package llmbridge

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/tokens"
)

// UsageRecord describes one finished request. Every chat request produces
// exactly one — on success, upstream error, refusal, client cancel and
// timeout alike — passed to the admission tickets and the observers
// (WithObserver, WithUsageSink).
type UsageRecord struct {
	// ID is unique to this record and minted by the bridge: 12 hex digits
	// of the arrival time in Unix milliseconds, then 16 random hex digits,
	// so IDs sort by arrival. Stores use it as the key that keeps a record
	// from being counted twice. (RequestID may come from the client and is
	// not unique.)
	ID            string
	Time          time.Time // when the request arrived
	RequestID     string    // the X-Request-Id of the response
	KeyID         string    // fingerprint of the access key used (never the key); empty without access keys or in-process
	Method, Path  string    // empty for in-process calls
	Format        string    // the API the client spoke: "chat", "anthropic", "anthropic_count_tokens", "responses", "embeddings"
	Provider      string    // the target that answered (or was tried last); empty when not routed
	Model         string    // as the client sent it
	UpstreamModel string    // the model name sent to Provider
	// ProviderKey is the id of Provider's key that answered (the
	// X-LLMBridge-Target header's key=), never the key; empty when the
	// provider's key is unknown to the bridge.
	ProviderKey string
	// Route is the route (WithRoute) the client's model named; empty
	// when it named a provider model directly.
	Route  string
	Stream bool
	Status int // HTTP status; 499 when the client went away
	// Retries counts upstream attempts after the first (retries and
	// failovers to other targets).
	Retries int

	PromptTokens, CompletionTokens, TotalTokens int
	CachedTokens, ReasoningTokens               int
	// CacheWriteTokens are prompt tokens written to the provider's prompt
	// cache (Anthropic's cache_creation_input_tokens, OpenAI's
	// cache_write_tokens); they are part of PromptTokens and billed above
	// the input price by some providers.
	CacheWriteTokens int
	// Estimated is true when the upstream reported no usage and the bridge
	// counted the prompt and the relayed completion itself.
	Estimated bool

	Duration time.Duration
	TTFT     time.Duration // time to the first event sent; 0 if none
	Error    string        // the error reported, if any
	// ErrorCode is the code of the error reported ("upstream_unreachable",
	// "upstream_timeout", "upstream_idle_timeout", "rate_limit_exceeded",
	// an upstream's own code, …), empty without one.
	ErrorCode string

	// Cache is what the response cache (WithCache) did: CacheHit,
	// CacheMiss or CacheBypass; empty when the Bridge has no cache, the
	// format is not cached, or the request ended before the cache stage.
	// A hit called no upstream: its token counts above are zero (nothing
	// was spent, so whatever prices or limits tokens charges nothing),
	// Saved holds the cached answer's counts, and Provider and
	// UpstreamModel name who made that answer.
	Cache string
	// Saved are the token counts of the cached answer on a hit, zero
	// otherwise; SavedRecord prices them.
	Saved TokenCounts

	// Unauthenticated is true for a request refused before its caller was
	// known: no key or a wrong one (401), or a source throttled after
	// failed keys (429). Its body was never read, so Model is empty and
	// nothing in the record was chosen by the client but the path. Usage
	// sinks (WithUsageSink) never receive such records; observers do, so
	// that metrics can count them, and should not store or publish them.
	Unauthenticated bool
}

// TokenCounts are the token counts of one answer, as a UsageRecord keeps
// them: Cached and CacheWrite are part of Prompt, Reasoning part of
// Completion.
type TokenCounts struct {
	Prompt, Completion, Total     int
	Cached, Reasoning, CacheWrite int
}

// SavedRecord returns r with its token counts replaced by Saved: priced
// like any record (same Provider and UpstreamModel), it gives the cost a
// cache hit saved. For a record that is not a hit its counts are zero.
func (r UsageRecord) SavedRecord() UsageRecord {
	s := r.Saved
	r.PromptTokens, r.CompletionTokens, r.TotalTokens = s.Prompt, s.Completion, s.Total
	r.CachedTokens, r.ReasoningTokens, r.CacheWriteTokens = s.Cached, s.Reasoning, s.CacheWrite
	r.Estimated = false
	return r
}

// finish is deferred by every call: it completes the record, counts
// tokens only if the upstream accepted the request without reporting usage,
// settles the admission tickets, tells the observers and logs the request.
// It runs on the request's goroutine after the response is complete, never
// racing a cancelled context.
func (c *call) finish() {
	r := &c.rec
	r.Duration = c.b.clock.Now().Sub(r.Time)
	if t := c.target; t.up != nil {
		r.Provider, r.UpstreamModel, r.ProviderKey = t.up.name, t.model, t.key.ID()
	}
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	switch u := c.usage; {
	case u != nil:
		r.PromptTokens, r.CompletionTokens, r.TotalTokens = u.PromptTokens, u.CompletionTokens, u.TotalTokens
		r.CachedTokens, r.ReasoningTokens, r.CacheWriteTokens = u.CachedTokens(), u.ReasoningTokens(), u.CacheWriteTokens()
	case len(c.rawUsage) > 0:
		// The relayed bytes' usage, read without decoding (hot path).
		n := openai.UsageCounts(c.rawUsage)
		r.PromptTokens, r.CompletionTokens, r.TotalTokens = n.Prompt, n.Completion, n.Total
		r.CachedTokens, r.ReasoningTokens, r.CacheWriteTokens = n.Cached, n.Reasoning, n.CacheWrite
	case c.accepted:
		if req, _ := c.request(); req != nil {
			r.PromptTokens, _ = c.b.tokens.CountPrompt(r.UpstreamModel, req)
		}
		r.CompletionTokens = c.completionTokens(r.UpstreamModel)
		r.TotalTokens = r.PromptTokens + r.CompletionTokens
		r.Estimated = true
	}
	if c.target.h != nil && r.Error == "" {
		c.target.h.Clean()
	}
	c.settle()
	c.observeEnd()
	c.b.logRecord(r)
}

// NewRecordID returns a new UsageRecord.ID for a request that arrived at t.
func NewRecordID(t time.Time) string {
	const digits = "0123456789abcdef"
	var id [28]byte
	ms := uint64(t.UnixMilli())
	for i := 11; i >= 0; i-- {
		id[i] = digits[ms&15]
		ms >>= 4
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	hex.Encode(id[12:], rnd[:])
	return string(id[:])
}

// KeyID returns the non-secret fingerprint of an access key used in usage
// records and logs: "key-" and 8 hex digits of its SHA-256.
func KeyID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "key-" + hex.EncodeToString(sum[:4])
}

// observe takes what a typed chunk tells the record: usage, and the
// generated text in case the upstream reports no usage.
func (c *call) observe(ch *ChatChunk) {
	if ch.Usage != nil {
		c.usage = ch.Usage
	}
	for i := range ch.Choices {
		d := &ch.Choices[i].Delta
		for _, s := range []*string{d.Content, d.ReasoningContent, d.Refusal} {
			if s != nil {
				c.text = append(c.text, *s...)
			}
		}
		for _, tc := range d.ToolCalls {
			c.text = append(c.text, tc.Function.Name...)
			c.text = append(c.text, tc.Function.Arguments...)
		}
	}
	c.boundText()
}

// appendMessage appends a response message's generated text.
func appendMessage(dst []byte, m *Message) []byte {
	dst = append(dst, m.Content.String()...)
	dst = append(dst, m.ReasoningContent...)
	for _, tc := range m.ToolCalls {
		dst = append(dst, tc.Function.Name...)
		dst = append(dst, tc.Function.Arguments...)
	}
	return dst
}

// textKeep is how much relayed completion text a call keeps for counting
// when the upstream reports no usage: the tokenizer counts that much
// exactly and the rest at 4 bytes a token (tokens.ExactBytes), so keeping
// more would only cost memory — a long answer to a client that reads
// slowly must not grow the call without bound.
const textKeep = tokens.ExactBytes

// boundText keeps the first textKeep bytes of the relayed text and counts
// the rest.
func (m *meter) boundText() {
	if len(m.text) > textKeep {
		m.textMore += len(m.text) - textKeep
		if cap(m.text) > textKeep+textKeep/4 {
			m.text = append(make([]byte, 0, textKeep), m.text[:textKeep]...) // let the grown array go
		} else {
			m.text = m.text[:textKeep]
		}
	}
}

// noteUsage notes the usage an upstream reported.
func (m *meter) noteUsage(u *Usage) { m.usage = u }

// noteText notes relayed completion text, for counting without usage.
func (m *meter) noteText(s string) {
	m.text = append(m.text, s...)
	m.boundText()
}

// noteRawUsage notes the usage object of relayed bytes (copied: the
// relay's buffer is reused), read only if the call ends with it.
func (m *meter) noteRawUsage(raw []byte) { m.rawUsage = append(m.rawUsage[:0], raw...) }

// noteRawUsageString is noteRawUsage for a usage read as a string (gjson).
func (m *meter) noteRawUsageString(raw string) { m.rawUsage = append(m.rawUsage[:0], raw...) }

// saveUsage keeps the usage noted in Saved: a cache hit replayed through
// a relay spent nothing, and the record says what it saved.
func (m *meter) saveUsage() {
	if u := m.usage; u != nil {
		m.rec.Saved = TokenCounts{Prompt: u.PromptTokens, Completion: u.CompletionTokens, Total: u.TotalTokens,
			Cached: u.CachedTokens(), Reasoning: u.ReasoningTokens(), CacheWrite: u.CacheWriteTokens()}
	}
}

// estimatedUsage counts the prompt and the relayed text for a client that
// must be told a usage the upstream did not report. (The record counts
// again in finish and is marked estimated.)
func (c *call) estimatedUsage() *Usage {
	model := c.target.model
	prompt := 0
	if req, _ := c.request(); req != nil {
		prompt, _ = c.b.tokens.CountPrompt(model, req)
	}
	n := c.completionTokens(model)
	return &Usage{PromptTokens: prompt, CompletionTokens: n, TotalTokens: prompt + n}
}

// completionTokens estimates the relayed completion's tokens for model.
func (c *call) completionTokens(model string) int {
	return c.b.tokens.CountText(model, string(c.text)) + (c.textMore+3)/4
}

// Usage is token usage as OpenAI reports it. Upstream usage is
// authoritative and reaches the client unchanged.
type Usage = openai.Usage

// PromptTokensDetails breaks prompt tokens down (cached_tokens, …).
type PromptTokensDetails = openai.PromptTokensDetails

// CompletionTokensDetails breaks completion tokens down (reasoning_tokens, …).
type CompletionTokensDetails = openai.CompletionTokensDetails

// TokenCounter counts OpenAI tokens offline with tiktoken (o200k_base and
// cl100k_base are embedded in the binary; nothing is downloaded). Encodings
// load on first use, once. It is safe for concurrent use; share one across
// Bridges (WithTokenCounter) so a reloaded Bridge does not load them again.
type TokenCounter struct {
	c *tokens.Counter
}

// NewTokenCounter returns a TokenCounter that has loaded nothing yet.
func NewTokenCounter() *TokenCounter { return &TokenCounter{c: tokens.NewCounter()} }

// CountText returns the tokens of text under model's encoding (o200k_base
// for models OpenAI does not name, as an estimate). Its cost is bounded:
// beyond the first 32 kB text is estimated at 4 bytes a token, and runs of
// more than 256 bytes without a space are counted in pieces.
func (t *TokenCounter) CountText(model, text string) int { return t.c.Text(model, text) }

// CountPrompt returns the prompt tokens of req as OpenAI counts them
// (per-message overhead, names, tool definitions, images by tile). exact is
// false when an image's size had to be assumed or the prompt's text went
// beyond CountText's bounds (32 kB in all, runs of 256 bytes without a
// space); for models that are not OpenAI's every count is an estimate.
func (t *TokenCounter) CountPrompt(model string, req *ChatRequest) (n int, exact bool) {
	return t.c.Prompt(model, req)
}

// Loaded reports whether any encoding has been loaded.
func (t *TokenCounter) Loaded() bool { return t.c.Loaded() }

// EstimatePromptTokens counts req's prompt for the model the default
// resolution routes it to, before any call (for rate limits and budgets).
func (b *Bridge) EstimatePromptTokens(req *ChatRequest) (int, error) {
	if aerr := checkChat(req); aerr != nil {
		return 0, aerr
	}
	_, upModel, aerr := b.resolve(req.Model)
	if aerr != nil {
		return 0, aerr
	}
	n, _ := b.tokens.CountPrompt(upModel, req)
	return n, nil
}
