package llmbridge

import (
	"errors"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/golden"
	"github.com/llmbridge/llmbridge/internal/openai"
)

// The Anthropic clients' error table, pinned in a golden file: what a
// Messages client gets (status, body) for each status an upstream of
// any family, or the bridge itself, fails with. Errors arrive in the
// canonical vocabulary (openai.TranslatedError's, the OpenAI clients'
// table, pinned in internal/openai).
func TestAnthropicErrorTable(t *testing.T) {
	var out []byte
	for _, s := range []int{400, 401, 402, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504, 529} {
		rec := httptest.NewRecorder()
		anthropicFormat{}.writeError(rec, openai.TranslatedError(s, "p", "m", ""))
		out = append(out, strconv.Itoa(rec.Code)+" "+rec.Header().Get("X-Should-Retry")+": "+rec.Body.String()...)
	}
	rec := httptest.NewRecorder()
	anthropicFormat{}.writeError(rec, &APIError{Status: 400, Code: "invalid_api_key", Message: "a key refused with 400 (Gemini's way)"})
	out = append(out, strconv.Itoa(rec.Code)+" "+rec.Header().Get("X-Should-Retry")+": "+rec.Body.String()...)
	golden.Check(t, "error_codes_anthropic.golden", out)
}

// A failure before any target was tried (the maximum duration spent in
// admission) names no provider, and the message still reads.
func TestClassifyWithoutProvider(t *testing.T) {
	for _, err := range []error{errMaxDuration, errIdleTimeout, errHeaderTimeout, ErrTruncated, errors.New("x"), &net.OpError{Op: "dial", Err: errors.New("refused")}} {
		msg := classify("", err).Message
		if !strings.HasPrefix(msg, "the upstream ") || strings.Contains(msg, "  ") {
			t.Errorf("%v: %q", err, msg)
		}
		if named := classify("openai", err).Message; !strings.HasPrefix(named, "upstream openai ") {
			t.Errorf("%v: %q", err, named)
		}
	}
}
