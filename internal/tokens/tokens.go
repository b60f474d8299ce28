// Package tokens counts OpenAI tokens offline: tiktoken encodings embedded
// in the binary (never downloaded), loaded lazily and once per Counter; the
// chat overhead of OpenAI's cookbook (3 per message, 1 per name, 3 for reply
// priming, tool definitions); and image tokens by OpenAI's tile rule with
// dimensions read from a data URL's header, never fetching a URL.
//
// Counts for models that are not OpenAI's (DeepSeek, Gemini, Llama, …) use
// o200k_base and are estimates; the bridge only counts when the upstream
// reported no usage.
//
// The cost of a count is bounded: tiktoken's BPE takes time quadratic in
// the length of a word, so a 100 kB prompt without a space took seconds of
// CPU. One count (a prompt, all its texts together, or a completion)
// tokenizes at most ExactBytes exactly and estimates the rest at 4 bytes a
// token, and a run of more than 256 bytes without a space is tokenized in
// 256-byte pieces; either makes the count an estimate (exact false).
package tokens

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// Encoding names.
const (
	O200k  = "o200k_base"
	CL100k = "cl100k_base"
)

// EncodingFor returns the encoding OpenAI uses for model, o200k_base for any
// model it does not know (as the cookbook does). tiktoken-go's own table
// lacks o1, o3, gpt-4.1 and gpt-5, so this one follows openai/tiktoken's
// model.py.
func EncodingFor(model string) string {
	m := model
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	switch m {
	case "o1", "o3", "o4-mini", "gpt-5", "gpt-4.1", "gpt-4o", "gpt-4.5":
		return O200k
	case "gpt-4", "gpt-3.5-turbo", "gpt-35-turbo", "davinci-002", "babbage-002":
		return CL100k
	}
	for _, p := range []string{"o1-", "o3-", "o4-mini-", "gpt-5", "gpt-4.5-", "gpt-4.1-", "chatgpt-4o-", "gpt-4o-", "ft:gpt-4o"} {
		if strings.HasPrefix(m, p) {
			return O200k
		}
	}
	for _, p := range []string{"gpt-4-", "gpt-3.5-turbo-", "gpt-35-turbo-", "text-embedding-", "ft:gpt-4", "ft:gpt-3.5"} {
		if strings.HasPrefix(m, p) {
			return CL100k
		}
	}
	return O200k
}

// Counter counts tokens. Its encodings load on first use, once each; it is
// safe for concurrent use and meant to be shared (one per process).
type Counter struct {
	o200k, cl100k lazy
}

type lazy struct {
	once sync.Once
	enc  *tiktoken.Tiktoken
	err  error
}

// NewCounter returns a Counter; nothing is loaded until a count needs it.
func NewCounter() *Counter { return &Counter{} }

// Loaded reports whether any encoding has been loaded (tests use it to
// prove that requests with upstream usage do no tokenizer work).
func (c *Counter) Loaded() bool {
	return c.o200k.enc != nil || c.cl100k.enc != nil || c.o200k.err != nil || c.cl100k.err != nil
}

func (c *Counter) encoding(name string) (*tiktoken.Tiktoken, error) {
	l := &c.o200k
	if name == CL100k {
		l = &c.cl100k
	}
	l.once.Do(func() {
		// tiktoken-go keeps its loader in a package variable; the offline
		// loader serves the embedded files, so nothing is ever downloaded.
		tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
		l.enc, l.err = tiktoken.GetEncoding(name)
	})
	return l.enc, l.err
}

// ExactBytes is how much text one count tokenizes exactly; the rest is
// estimated at 4 bytes per token.
const ExactBytes = 32 << 10

// maxRun is the longest run of text without a word break that tiktoken is
// given whole; longer runs are cut (BPE time is quadratic in a word's
// length: 256 bytes cost microseconds, 16 kB a fifth of a second).
const maxRun = 256

// Text returns the number of tokens of text for model, within the bounds
// of Count. Special-token text is counted as ordinary text.
func (c *Counter) Text(model, text string) int {
	n, _ := c.Count(model, text)
	return n
}

// Count returns the number of tokens of text for model and whether the
// count is exact: it is not when text is longer than ExactBytes (the rest
// is counted at 4 bytes a token) or holds a run of more than 256 bytes
// without a space (cut into pieces counted separately, which can differ by
// a token a piece). An encoding that cannot load (it is embedded, so this
// does not happen in practice) counts one token per 4 bytes.
func (c *Counter) Count(model, text string) (n int, exact bool) {
	m := c.meter(model)
	n = m.count(text)
	return n, m.exact
}

// meter counts the texts of one count against one budget.
type meter struct {
	enc   *tiktoken.Tiktoken // nil: the encoding did not load
	left  int                // bytes still counted exactly
	exact bool
}

func (c *Counter) meter(model string) *meter {
	enc, err := c.encoding(EncodingFor(model))
	if err != nil {
		enc = nil
	}
	return &meter{enc: enc, left: ExactBytes, exact: enc != nil}
}

// count counts text: its head within the budget exactly, the rest by size.
func (m *meter) count(text string) int {
	if text == "" {
		return 0
	}
	head := text
	if len(head) > m.left {
		i := m.left
		for i > 0 && !utf8.RuneStart(text[i]) {
			i--
		}
		head = text[:i]
		m.exact = false
	}
	m.left -= len(head)
	n := (len(text) - len(head) + 3) / 4
	if m.enc == nil {
		return n + (len(head)+3)/4
	}
	return n + m.exactCount(head)
}

// exactCount tokenizes text, cutting runs longer than maxRun without a
// break. A break is a space or newline after a letter, digit or sign:
// tiktoken's pre-tokenizer splits there too, so cutting there changes
// nothing; only cuts inside a long run make the count an estimate.
func (m *meter) exactCount(text string) int {
	n, start, run := 0, 0, 0
	for i := 1; i < len(text); i++ {
		if (text[i] == ' ' || text[i] == '\n') && !isSpace(text[i-1]) {
			run = i
			continue
		}
		if i-run >= maxRun && utf8.RuneStart(text[i]) {
			n += len(m.enc.EncodeOrdinary(text[start:i]))
			start, run = i, i
			m.exact = false
		}
	}
	return n + len(m.enc.EncodeOrdinary(text[start:]))
}

func isSpace(b byte) bool { return b == ' ' || b == '\n' || b == '\r' || b == '\t' }
