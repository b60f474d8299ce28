// Package tokens counts OpenAI tokens offline: tiktoken encodings embedded
// in the binary (never downloaded), loaded lazily and once per Counter; the
// chat overhead of OpenAI's cookbook (3 per message, 1 per name, 3 for reply
// priming, tool definitions); and image tokens by OpenAI's tile rule with
// dimensions read from a data URL's header, never fetching a URL.
//
// Counts for models that are not OpenAI's (DeepSeek, Gemini, Llama, …) use
// o200k_base and are estimates; the bridge only counts when the upstream
// reported no usage.
package tokens

import (
	"strings"
	"sync"

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

// Text returns the number of tokens of text for model. Special-token text
// is counted as ordinary text. An encoding that cannot load (it is embedded,
// so this does not happen in practice) counts one token per 4 bytes.
func (c *Counter) Text(model, text string) int {
	if text == "" {
		return 0
	}
	enc, err := c.encoding(EncodingFor(model))
	if err != nil {
		return (len(text) + 3) / 4
	}
	return len(enc.EncodeOrdinary(text))
}
