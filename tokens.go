package llmbridge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/tokens"
)

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
// for models OpenAI does not name, as an estimate).
func (t *TokenCounter) CountText(model, text string) int { return t.c.Text(model, text) }

// CountPrompt returns the prompt tokens of req as OpenAI counts them
// (per-message overhead, names, tool definitions, images by tile). exact is
// false when an image's size had to be assumed; for models that are not
// OpenAI's every count is an estimate.
func (t *TokenCounter) CountPrompt(model string, req *ChatRequest) (n int, exact bool) {
	return t.c.Prompt(model, req)
}

// Loaded reports whether any encoding has been loaded.
func (t *TokenCounter) Loaded() bool { return t.c.Loaded() }

// EstimatePromptTokens counts req's prompt for the model it routes to,
// before any call (for rate limits and budgets).
func (b *Bridge) EstimatePromptTokens(req *ChatRequest) (int, error) {
	_, upModel, err := b.prepare(context.Background(), req)
	if err != nil {
		return 0, err
	}
	n, _ := b.tokens.CountPrompt(upModel, req)
	return n, nil
}

// UsageRecord describes one finished request. Every chat request produces
// exactly one — on success, upstream error, client cancel and timeout
// alike — passed to the usage sinks (WithUsageSink).
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
	Provider      string    // empty when the request was not routed
	Model         string    // as the client sent it
	UpstreamModel string
	Stream        bool
	Status        int // HTTP status; 499 when the client went away

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
}

// finish is deferred by every request: it completes the record, counts
// tokens only if the upstream accepted the request without reporting usage,
// and hands the record to the sinks and the log. It runs on the request's
// goroutine, after the response is complete, never racing a cancelled
// context.
func (b *Bridge) finish(c *call) {
	r := &c.rec
	r.ID = NewRecordID(r.Time)
	r.Duration = time.Since(r.Time)
	if !c.first.IsZero() {
		r.TTFT = c.first.Sub(r.Time)
	}
	if r.Status == 0 {
		r.Status = 200
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
		if req := c.request(); req != nil {
			r.PromptTokens, _ = b.tokens.CountPrompt(r.UpstreamModel, req)
		}
		r.CompletionTokens = b.tokens.CountText(r.UpstreamModel, string(c.text))
		r.TotalTokens = r.PromptTokens + r.CompletionTokens
		r.Estimated = true
	}
	for _, sink := range b.cfg.sinks {
		sink(*r)
	}
	b.logRecord(r)
}

// logRecord writes the console line of a request. Keys never appear in it.
func (b *Bridge) logRecord(r *UsageRecord) {
	level := slog.LevelInfo
	if r.Status >= 500 || r.Error != "" && r.Status < 400 {
		level = slog.LevelWarn
	}
	ctx := context.Background()
	if !b.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", r.RequestID), slog.Int("status", r.Status), slog.String("model", r.Model),
		slog.String("provider", r.Provider), slog.Bool("stream", r.Stream), slog.Duration("duration", r.Duration),
	}
	if r.KeyID != "" {
		attrs = append(attrs, slog.String("key_id", r.KeyID))
	}
	if r.TTFT > 0 {
		attrs = append(attrs, slog.Duration("ttft", r.TTFT))
	}
	if r.TotalTokens > 0 {
		attrs = append(attrs, slog.Int("prompt_tokens", r.PromptTokens), slog.Int("completion_tokens", r.CompletionTokens))
		if r.Estimated {
			attrs = append(attrs, slog.Bool("estimated", true))
		}
	}
	if r.Error != "" {
		attrs = append(attrs, slog.String("error", r.Error))
	}
	b.log.LogAttrs(ctx, level, "chat completion", attrs...)
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
