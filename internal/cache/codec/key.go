package codec

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"sync"
)

// KeyHeaders are the client request headers that reach the upstream
// (AnthropicWire forwards them on the Messages pass-through; no other
// client header goes upstream) and change its answer: the key includes
// their values, in every scope and every format (a chat client that sends
// them only misses more). A header a format or provider starts forwarding
// belongs here too (TestCacheKeyCoversForwardedHeaders checks the
// built-in ones).
var KeyHeaders = [...]string{"Anthropic-Version", "Anthropic-Beta"}

// keyVersion starts every hashed key; a change of what is hashed or
// how bumps it, so no old entry is served under a new meaning (v2: the
// forwarded headers, lone surrogates, length-prefixed fields).
const keyVersion = "llmbridge-cache-v2\x00"

// Hash is the hex SHA-256 of a request's key: the key version, then the
// client format, the model, the scope (a key id, or "" when shared), the
// values of every KeyHeaders header in h (nil: none) and the canonical
// body (AppendCanonical). Every field but the last is length-prefixed and
// the last runs to the end, so no two different sets of fields hash the
// same bytes (a model name may hold any character, NUL included). It is
// safe for concurrent use.
func Hash(format, model, scope string, h http.Header, body []byte) string {
	bp := keyBufs.Get().(*[]byte)
	buf := append((*bp)[:0], keyVersion...)
	buf = appendKeyField(buf, format)
	buf = appendKeyField(buf, model)
	buf = appendKeyField(buf, scope)
	for _, name := range KeyHeaders {
		// Every value, in order: the provider forwards each line. The
		// names are canonical: indexed as they are, not canonicalised
		// again on every request.
		vs := h[name]
		buf = binary.AppendUvarint(buf, uint64(len(vs)))
		for _, v := range vs {
			buf = appendKeyField(buf, v)
		}
	}
	buf = AppendCanonical(buf, body)
	sum := sha256.Sum256(buf)
	if cap(buf) <= 64<<10 {
		*bp = buf
		keyBufs.Put(bp)
	}
	return hex.EncodeToString(sum[:])
}

// appendKeyField appends s to a key's bytes, preceded by its length.
func appendKeyField(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// keyBufs holds the buffers Hash writes canonical requests into.
var keyBufs = sync.Pool{New: func() any { return new([]byte) }}
