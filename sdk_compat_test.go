package llmbridge_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/openai/openai-go/v3"
)

// The Anthropic SDK reads the request id from request-id (on a message
// through the raw response, on an error as Error.RequestID): the
// upstream's on a pass-through, with its anthropic-ratelimit-* headers;
// the bridge's own (its X-Request-Id) on a translated route and on errors.
func TestAnthropicSDKReadsTheRequestID(t *testing.T) {
	e := newClaudeEnv(t)
	for _, tc := range []struct {
		model      string
		stream     bool
		upstreamID bool
	}{
		{"anthropic/claude-sonnet-4-5", false, true},
		{"anthropic/claude-sonnet-4-5", true, true},
		{"openai/gpt-4o", false, false},
		{"gemini/gemini-2.0-flash-exp", true, false},
	} {
		var resp *http.Response
		if tc.stream {
			s := e.client(aoption.WithResponseInto(&resp)).Messages.NewStreaming(ctxTimeout(t), hi(tc.model))
			for s.Next() {
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
		} else if _, err := e.client(aoption.WithResponseInto(&resp)).Messages.New(ctxTimeout(t), hi(tc.model)); err != nil {
			t.Fatal(err)
		}
		rid, ours := resp.Header.Get("request-id"), resp.Header.Get("X-Request-Id")
		limit := resp.Header.Get("anthropic-ratelimit-requests-limit")
		switch {
		case tc.upstreamID && (rid != testupstream.AnthropicRequestID || limit != "50" || resp.Header.Get("anthropic-organization-id") != ""):
			t.Errorf("%s stream=%v: request-id %q, ratelimit %q: want the upstream's id and rate limits, nothing else", tc.model, tc.stream, rid, limit)
		case !tc.upstreamID && (rid == "" || rid != ours || limit != ""):
			t.Errorf("%s stream=%v: request-id %q, X-Request-Id %q, ratelimit %q: want the bridge's id", tc.model, tc.stream, rid, ours, limit)
		}
	}
	e.openai.Enqueue(testupstream.Reply{Status: 429, RetryAfter: "0"}, testupstream.Reply{Status: 429, RetryAfter: "0"}, testupstream.Reply{Status: 429, RetryAfter: "0"})
	_, err := e.client(aoption.WithHeader("X-Request-Id", "trace-42")).Messages.New(ctxTimeout(t), hi("openai/gpt-4o"))
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.RequestID != "trace-42" || ae.StatusCode != 429 || ae.Type() != "rate_limit_error" {
		t.Fatalf("got %v (request id %q), want a 429 rate_limit_error with request id trace-42", err, ae.RequestID)
	}
}

// openai-go sees a translated upstream's rate limit, overload or refused
// key with OpenAI's own codes, whatever the upstream called it
// (rate_limit_error, RESOURCE_EXHAUSTED, …): the OpenAI clients' table.
func TestOpenAISDKSeesOpenAICodesFromEveryUpstream(t *testing.T) {
	for _, up := range []struct {
		name   string
		flavor testupstream.Flavor
		prov   func(llmbridge.ProviderConfig) llmbridge.Provider
		model  string
	}{
		{"anthropic", testupstream.Anthropic, llmbridge.Anthropic, "anthropic/claude-haiku-4-5"},
		{"gemini", testupstream.GeminiNative, llmbridge.Gemini, "gemini/gemini-2.5-flash"},
		{"gemini-openai", testupstream.GeminiCompat, llmbridge.GeminiOpenAICompat, "gemini/gemini-2.5-flash"},
	} {
		for _, tc := range []struct {
			status    int
			typ, code string
		}{{429, "requests", "rate_limit_exceeded"}, {401, "invalid_request_error", "invalid_api_key"}, {500, "server_error", ""}} {
			client, fake, _ := sdkFor(t, up.flavor, up.prov)
			rep := testupstream.Reply{Status: tc.status, RetryAfter: "0"}
			fake.Enqueue(rep, rep, rep)
			_, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{Model: up.model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
			var ae *openai.Error
			if !errors.As(err, &ae) || ae.StatusCode != tc.status || ae.Type != tc.typ || ae.Code != tc.code {
				t.Errorf("%s %d: got %v, want type %q code %q", up.name, tc.status, err, tc.typ, tc.code)
			}
		}
	}
}
