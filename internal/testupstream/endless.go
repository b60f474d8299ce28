package testupstream

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// NewEndless starts an OpenAI-flavoured upstream whose every stream sends
// the same content chunk over and over until the client goes away, with
// constant memory (unlike scripted replies, which are built whole): for
// measuring what a slow or stuck client costs the bridge. BaseURL is its
// URL; it accepts any key and closes with the test.
func NewEndless(tb testing.TB) *httptest.Server {
	chunk := []byte(`data: {"id":"chatcmpl-endless","object":"chat.completion.chunk","created":1782955817,"model":"m","choices":[{"index":0,"delta":{"content":" lorem ipsum dolor sit amet, consectetur adipiscing elit"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}))
	tb.Cleanup(s.Close)
	return s
}
