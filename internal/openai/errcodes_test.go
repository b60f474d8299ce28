package openai

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/llmbridge/llmbridge/internal/golden"
)

// errorStatuses are the statuses the error tables are pinned for: every
// status a Messages or Gemini upstream answers with.
var errorStatuses = []int{400, 401, 402, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504, 529}

// The OpenAI clients' error table, pinned in a golden file: one OpenAI
// error body per status a translated upstream answers with.
func TestTranslatedErrorTable(t *testing.T) {
	var out []byte
	for _, s := range errorStatuses {
		b, err := Marshal(TranslatedError(s, "p", http.StatusText(s), ""))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strconv.Itoa(s)+": "...)
		out = append(append(out, b...), '\n')
	}
	golden.Check(t, "error_codes_openai.golden", out)
	if e := TranslatedError(429, "p", "slow down", "3"); e.Code != "rate_limit_exceeded" || e.RetryAfter != "3" || e.Provider != "p" {
		t.Errorf("429: %+v", e)
	}
}
