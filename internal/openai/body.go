package openai

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/tidwall/gjson"
)

// MaxResponseBytes bounds a non-streamed upstream response body.
const MaxResponseBytes = 64 << 20

// ErrTruncated is the error, or the cause wrapped by the error, that ends
// a stream whose upstream closed it before its normal end ([DONE],
// message_stop, a finish reason). Every adapter and the bridge's own relay
// use it, so callers test for it with errors.Is.
var ErrTruncated = errors.New("upstream closed the stream before it finished")

// Truncated returns ErrTruncated with a detail naming what was missing.
func Truncated(detail string) error { return fmt.Errorf("%w (%s)", ErrTruncated, detail) }

// ReadResponseBody reads a non-streamed response body of up to
// MaxResponseBytes, skipping the blank lines DeepSeek sends while a request
// waits, and checks that it is JSON. It does not close the body.
func ReadResponseBody(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxResponseBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxResponseBytes {
		return nil, fmt.Errorf("upstream response larger than %d bytes", MaxResponseBytes)
	}
	body = bytes.TrimLeft(body, " \t\r\n")
	if !ValidJSON(body) {
		return nil, errors.New("upstream response is not valid JSON")
	}
	return body, nil
}

// ParseView parses body like gjson.ParseBytes without copying it: the
// result and every string read from it share body's memory. A 100 kB
// prompt is then neither copied per parse nor kept alive by a short
// string cut from the copy (a model name held for the whole stream). body
// must not change while the result is in use; clone what outlives it.
func ParseView(body []byte) gjson.Result {
	if len(body) == 0 {
		return gjson.Result{}
	}
	return gjson.Parse(unsafe.String(&body[0], len(body)))
}
