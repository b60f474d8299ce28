package llmbridge_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/tidwall/gjson"
)

// Issue 24, item 8: an upstream that echoes the key it was sent inside a
// mid-stream error event. The pass-through relays (chat, Messages,
// Responses) pass the event on — one error event, no [DONE], the rest of
// its message intact — with the provider key redacted, as non-streamed
// errors, logs and the store have it.
func TestSecurityStreamErrorEventRedactsKey(t *testing.T) {
	echo := testupstream.NewKeyEcho(t)
	const (
		openaiKey    = "sk-proj-EchoedKey0123456789abcdefXYZ"
		anthropicKey = "sk-ant-api03-EchoedKey0123456789-abc"
	)
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: echo.BaseURL(), APIKey: openaiKey})),
		llmbridge.WithProvider(llmbridge.Anthropic(llmbridge.ProviderConfig{BaseURL: echo.BaseURL(), APIKey: anthropicKey})),
		llmbridge.WithAccessKeys(accessKey),
	)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { srv.Close(); b.Close() })

	for _, tc := range []struct {
		name, path, body, key string
		// errorEvent names the event that must end the stream ("" for a
		// chat data-only event).
		errorEvent string
	}{
		{"chat", "/v1/chat/completions", `{"model":"openai/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`, openaiKey, ""},
		{"messages", "/v1/messages", `{"model":"anthropic/claude-haiku-4-5","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, anthropicKey, "error"},
		{"responses failed", "/v1/responses", `{"model":"openai/gpt-4o-mini","stream":true,"input":"hi"}`, openaiKey, "response.failed"},
		{"responses error", "/v1/responses", `{"model":"openai/gpt-4o-mini-error-event","stream":true,"input":"hi"}`, openaiKey, "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := echo.Requests()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+accessKey)
			req.Header.Set("Anthropic-Version", "2023-06-01")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := string(raw)
			if resp.StatusCode != http.StatusOK || echo.Requests() != before+1 {
				t.Fatalf("status %d after %d upstream requests: %s", resp.StatusCode, echo.Requests()-before, got)
			}
			if strings.Contains(got, tc.key) || strings.Contains(got, tc.key[1:]) {
				t.Errorf("the provider key reached the client:\n%s", got)
			}
			events := sseEvents(t, raw)
			if len(events) < 2 {
				t.Fatalf("events %q", events)
			}
			last := events[len(events)-1]
			var msg string
			switch tc.name {
			case "chat":
				msg = gjson.Get(last[1], "error.message").Str
				if strings.Contains(got, "[DONE]") {
					t.Error("[DONE] after an error event")
				}
			case "messages":
				msg = gjson.Get(last[1], "error.message").Str
			case "responses failed":
				msg = gjson.Get(last[1], "response.error.message").Str
			default:
				msg = gjson.Get(last[1], "message").Str
			}
			// Decoded, no string of any event holds the key (an escaped
			// echo included); the rest of the message is there.
			for _, ev := range events {
				eachString(gjson.Parse(ev[1]), func(s string) {
					if strings.Contains(s, tc.key) {
						t.Errorf("event %s holds the key: %q", ev[0], s)
					}
				})
			}
			if last[0] != tc.errorEvent || !strings.HasPrefix(msg, testupstream.EchoText+": [redacted].") ||
				!strings.Contains(msg, "?key=[redacted]&alt=sse") || !strings.Contains(msg, "(was [redacted])") {
				t.Errorf("last event %s %s: want the %q event with its message intact but for the key", last[0], last[1], tc.errorEvent)
			}
			errorEvents := 0
			for _, ev := range events {
				if ev[0] == "error" || strings.HasSuffix(ev[0], ".failed") || gjson.Get(ev[1], "error").IsObject() {
					errorEvents++
				}
			}
			if errorEvents != 1 || !strings.Contains(got, "Hel") {
				t.Errorf("%d error events, content relayed %v:\n%s", errorEvents, strings.Contains(got, "Hel"), got)
			}
		})
	}
}

// eachString calls fn with every string in v, member names included.
func eachString(v gjson.Result, fn func(string)) {
	switch {
	case v.Type == gjson.String:
		fn(v.Str)
	case v.IsObject():
		v.ForEach(func(k, m gjson.Result) bool {
			fn(k.Str)
			eachString(m, fn)
			return true
		})
	case v.IsArray():
		v.ForEach(func(_, e gjson.Result) bool {
			eachString(e, fn)
			return true
		})
	}
}
