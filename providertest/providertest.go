package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// Wire is a wire format the suite's fake upstreams speak. Each constant's
// doc says what its fake serves under the baseURL passed to Harness.New,
// where it reads the model and the key, and how it answers.
//
// Unless a check scripts another reply (an error status, a cut stream),
// every fake answers a request it accepts with "Hello world" (streamed as
// "Hello" and " world") and usage of 9 prompt and 2 completion tokens;
// error replies are in the wire's own error format. A fake rejects a
// request with the wrong key, path or body shape with an error status,
// which fails the check that sent it.
//
// The zero Wire is not a wire format; Run fails a Harness that leaves Wire
// unset.
type Wire int

const (
	// WireOpenAI is OpenAI's Chat Completions API. The fake serves POST
	// {baseURL}/chat/completions with the key as "Authorization: Bearer
	// {key}" and the model in the JSON body's "model". A streamed reply is
	// "data: {chunk}" server-sent events ending with "data: [DONE]"; it
	// carries usage, in a last chunk with no choices, only when the request
	// sets stream_options.include_usage. Errors are
	// {"error":{"message","type","param","code"}}.
	WireOpenAI Wire = iota + 1

	// WireDeepSeek is DeepSeek's dialect of the OpenAI API: endpoint, key,
	// model and errors as WireOpenAI. A non-streamed body starts with blank
	// lines; a stream has ": keep-alive" comment lines and
	// reasoning_content deltas, and carries usage (again only with
	// stream_options.include_usage) inside the chunk with the finish reason.
	WireDeepSeek

	// WireGeminiCompat is Gemini's OpenAI-compatibility endpoint. baseURL
	// is the Gemini API root: the fake serves POST
	// {baseURL}/openai/chat/completions, with key, model and streams as
	// WireOpenAI. Errors are a JSON array,
	// [{"error":{"code","message","status"}}].
	WireGeminiCompat

	// WireGemini is Gemini's own API. The fake serves
	// {baseURL}/models/{model}:generateContent and
	// {baseURL}/models/{model}:streamGenerateContent (answered, as with
	// ?alt=sse, with server-sent events), the model in the path and the key
	// in the x-goog-api-key header; a key in the URL is refused. The body
	// needs a non-empty "contents". A stream's events are CRLF-framed, carry
	// cumulative usageMetadata and end without [DONE]. Errors are
	// {"error":{"code","message","status"}}.
	WireGemini

	// WireAnthropic is Anthropic's Messages API. The fake serves POST
	// {baseURL}/messages with the key in the x-api-key header, an
	// anthropic-version header, and the model and a positive max_tokens in
	// the JSON body; messages must alternate user and assistant. A stream
	// is named server-sent events from message_start to message_stop,
	// without [DONE]. Errors are {"type":"error","error":{"type","message"}}.
	WireAnthropic

	// WireBedrock is the AWS Bedrock Runtime's Converse API. The fake
	// serves POST {baseURL}/model/{modelId}/converse and
	// /converse-stream, the model ID in the path escaped as the AWS SDKs
	// escape it, the key as a Bedrock API key ("Authorization: Bearer
	// {key}"; a SigV4 signature is checked too, see testupstream.Bedrock).
	// A stream is binary event-stream frames from messageStart to
	// metadata. Errors are {"message"} with the exception's name in the
	// x-amzn-ErrorType header.
	WireBedrock

	// WireAzure is Azure OpenAI's deployment API. baseURL is the
	// resource's endpoint: the fake serves POST
	// {baseURL}/openai/deployments/{deployment}/chat/completions?api-version=…
	// (a deployment is named like its model; a missing or unknown
	// api-version is refused) with the key in the api-key header. Answers
	// and streams are WireOpenAI's plus Azure's prompt_filter_results (a
	// stream's first chunk has only those, no choices) and
	// content_filter_results. Errors are {"error":{"code","message"}}.
	WireAzure

	// WireVertex is Google Vertex AI with a Gemini model. baseURL is the
	// API host: the fake serves POST
	// {baseURL}/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent
	// and :streamGenerateContent?alt=sse, with the key as an OAuth bearer
	// token ("Authorization: Bearer {key}"), answering as WireGemini.
	WireVertex
)

// String returns the wire format's name ("openai", "deepseek",
// "gemini-compat", "gemini", "anthropic", "bedrock", "azure", "vertex"), or "Wire(n)" for a value that is
// not one of the constants.
func (w Wire) String() string {
	if s, ok := wires[w]; ok {
		return s.name
	}
	return fmt.Sprintf("Wire(%d)", int(w))
}

// wire is what the suite knows of a Wire: the fake's flavor and where a
// request carries the model and the key.
type wire struct {
	name   string
	flavor testupstream.Flavor
	sent   func(r testupstream.Request) (model, key string)
}

var wires = map[Wire]wire{
	WireOpenAI:       {"openai", testupstream.OpenAI, bearerSent},
	WireDeepSeek:     {"deepseek", testupstream.DeepSeek, bearerSent},
	WireGeminiCompat: {"gemini-compat", testupstream.GeminiCompat, bearerSent},
	WireGemini: {"gemini", testupstream.GeminiNative, func(r testupstream.Request) (string, string) {
		model, _, _ := strings.Cut(strings.TrimPrefix(r.Path, "/v1beta/models/"), ":")
		return model, r.Header.Get("X-Goog-Api-Key")
	}},
	WireAnthropic: {"anthropic", testupstream.Anthropic, func(r testupstream.Request) (string, string) {
		return bodyModel(r), r.Header.Get("X-Api-Key")
	}},
	WireBedrock: {"bedrock", testupstream.Bedrock, func(r testupstream.Request) (string, string) {
		model := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(r.Path, "/model/"), "/converse-stream"), "/converse")
		return model, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}},
	WireAzure: {"azure", testupstream.Azure, func(r testupstream.Request) (string, string) {
		dep, _, _ := strings.Cut(strings.TrimPrefix(r.Path, "/openai/deployments/"), "/")
		return dep, r.Header.Get("Api-Key")
	}},
	WireVertex: {"vertex", testupstream.Vertex, func(r testupstream.Request) (string, string) {
		_, rest, _ := strings.Cut(r.Path, "/publishers/google/models/")
		model, _, _ := strings.Cut(rest, ":")
		return model, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}},
}

func bearerSent(r testupstream.Request) (string, string) {
	return bodyModel(r), strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func bodyModel(r testupstream.Request) string {
	var body struct{ Model string }
	_ = json.Unmarshal(r.Body, &body)
	return body.Model
}

// Harness tells Run how to build the provider under test.
type Harness struct {
	// Wire is the wire format the provider speaks, which selects the fake
	// upstream it is run against. Required.
	Wire Wire

	// New returns the provider under test configured to send its requests
	// to baseURL (see Wire for what the fake serves under it) with the key
	// key. Run calls it once for every fake upstream it starts, each time
	// with a new baseURL; the key is the same every time, a non-empty
	// string the fake checks. Required.
	New func(baseURL, key string) llmbridge.Provider
}

// Model is the model name of every request the suite sends; the checks
// expect the upstream to receive it unchanged.
const Model = "some-model"

// Run runs the suite against the provider h builds, each check as a
// subtest of t, and reports failures through t. For every check it starts
// a fake upstream speaking h.Wire, builds the provider with h.New, builds a
// request with its NewRequest from a ChatRequest for [Model] with one user
// message "hi" (Stream set for the stream checks), sends it with
// an http.Client that never follows redirects (a key must not travel to
// another host), wraps the response body in a [CountingBody] and
// passes the response to the provider's decode method. The upstream must
// accept every request (answer 2xx, or the status a check scripts); a check
// fails at once when it does not. The checks are:
//
//   - NonStream: DecodeResponse returns the choice content "Hello world"
//     and usage of 9 prompt, 2 completion and 11 total tokens, and closes
//     the body exactly once; the upstream received [Model] and the key
//     where h.Wire carries them.
//   - Stream: the content deltas DecodeStream yields join to "Hello world",
//     it yields no error, the last usage it yields has 11 total tokens equal
//     to prompt plus completion, and it closes the body exactly once.
//   - StreamStopEarlyClosesBody: when the range over DecodeStream stops
//     after the first pair, the body has been closed exactly once.
//   - StreamCutIsAnError: when the upstream drops the connection after two
//     events, the last pair DecodeStream yields has a non-nil error, and
//     the body has been closed exactly once.
//   - ErrorStatusBecomesAPIError: for the upstream statuses 400, 401, 429,
//     500 and 503, each sent with "Retry-After: 7" and the wire's error
//     body, DecodeError returns an error that errors.As finds an
//     [*llmbridge.APIError] in, whose Status is the upstream status,
//     Message is not empty and RetryAfter is "7", and closes the body
//     exactly once.
//
// Run fails t at once if h.Wire is not one of the Wire constants or h.New
// is nil.
func Run(t *testing.T, h Harness) {
	t.Helper()
	w, ok := wires[h.Wire]
	if !ok {
		t.Fatalf("providertest: Harness.Wire is %v, not one of the Wire constants", h.Wire)
	}
	if h.New == nil {
		t.Fatal("providertest: Harness.New is nil")
	}
	s := suite{h: h, w: w}
	t.Run("NonStream", s.nonStream)
	t.Run("Stream", s.stream)
	t.Run("StreamStopEarlyClosesBody", s.stopEarly)
	t.Run("StreamCutIsAnError", s.cut)
	t.Run("ErrorStatusBecomesAPIError", s.errorStatus)
}

type suite struct {
	h Harness
	w wire
}

// upstream starts a fake of the harness's wire, closed with t, with the
// replies queued, and the provider configured for it.
func (s suite) upstream(t *testing.T, replies ...testupstream.Reply) (*testupstream.Server, llmbridge.Provider) {
	t.Helper()
	up := testupstream.New(t, s.w.flavor)
	up.Enqueue(replies...)
	p := s.h.New(up.BaseURL(), up.Key)
	if p == nil {
		t.Fatal("Harness.New returned nil")
	}
	return up, p
}

func roundTrip(t *testing.T, p llmbridge.Provider, stream bool) (*http.Response, *CountingBody) {
	t.Helper()
	req := &llmbridge.ChatRequest{Model: Model, Stream: stream, Messages: []llmbridge.Message{llmbridge.UserMessage("hi")}}
	hreq, err := p.NewRequest(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := noRedirects.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	orig := resp.Body
	t.Cleanup(func() { orig.Close() })
	body := NewCountingBody(orig)
	resp.Body = body
	return resp, body
}

// okRoundTrip is roundTrip for the checks that need the upstream to accept
// the request: a non-2xx answer means it rejected what the provider sent.
func okRoundTrip(t *testing.T, p llmbridge.Provider, stream bool) (*http.Response, *CountingBody) {
	t.Helper()
	resp, body := roundTrip(t, p, stream)
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		t.Fatalf("upstream answered %d to the provider's request (wrong path, key or body?): %s", resp.StatusCode, b)
	}
	return resp, body
}

func (s suite) nonStream(t *testing.T) {
	up, p := s.upstream(t)
	resp, body := okRoundTrip(t, p, false)
	out, err := p.DecodeResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	if out == nil || len(out.Choices) == 0 {
		t.Fatalf("DecodeResponse returned no choices: %+v", out)
	}
	if got := out.Choices[0].Message.Content.String(); got != "Hello world" {
		t.Errorf("content %q", got)
	}
	if u := out.Usage; u == nil || u.PromptTokens != 9 || u.CompletionTokens != 2 || u.TotalTokens != 11 {
		t.Errorf("usage %+v", out.Usage)
	}
	if n := body.Closes(); n != 1 {
		t.Errorf("body closed %d times, want 1", n)
	}
	if model, key := s.w.sent(up.Requests()[0]); model != Model || key != up.Key {
		t.Errorf("upstream got model %q and key %q", model, key)
	}
}

func (s suite) stream(t *testing.T) {
	_, p := s.upstream(t)
	resp, body := okRoundTrip(t, p, true)
	var text strings.Builder
	var usage *llmbridge.Usage
	for ch, err := range p.DecodeStream(resp) {
		if err != nil {
			t.Fatal(err)
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != nil {
				text.WriteString(*c.Delta.Content)
			}
		}
	}
	if text.String() != "Hello world" {
		t.Errorf("content %q", text.String())
	}
	if usage == nil || usage.PromptTokens+usage.CompletionTokens != usage.TotalTokens || usage.TotalTokens != 11 {
		t.Errorf("usage does not add up: %+v", usage)
	}
	if n := body.Closes(); n != 1 {
		t.Errorf("body closed %d times, want 1", n)
	}
}

func (s suite) stopEarly(t *testing.T) {
	_, p := s.upstream(t)
	resp, body := okRoundTrip(t, p, true)
	for range p.DecodeStream(resp) {
		break
	}
	if n := body.Closes(); n != 1 {
		t.Errorf("body closed %d times after the consumer stopped, want 1", n)
	}
}

func (s suite) cut(t *testing.T) {
	_, p := s.upstream(t, testupstream.Reply{Content: []string{"a", "b", "c"}, CutAfter: 2})
	resp, body := okRoundTrip(t, p, true)
	var last error
	for _, err := range p.DecodeStream(resp) {
		last = err
	}
	if last == nil {
		t.Error("a stream cut before its end ended without an error")
	}
	if n := body.Closes(); n != 1 {
		t.Errorf("body closed %d times, want 1", n)
	}
}

func (s suite) errorStatus(t *testing.T) {
	for _, status := range []int{400, 401, 429, 500, 503} {
		_, p := s.upstream(t, testupstream.Reply{Status: status, RetryAfter: "7"})
		resp, body := roundTrip(t, p, false)
		if resp.StatusCode != status {
			t.Fatalf("upstream answered %d, want the scripted %d (did it reject the request?)", resp.StatusCode, status)
		}
		err := p.DecodeError(resp)
		var ae *llmbridge.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("%d: got %T %v, want *APIError", status, err, err)
		}
		if ae.Status != status || ae.Message == "" || ae.RetryAfter != "7" {
			t.Errorf("%d: %+v", status, ae)
		}
		if n := body.Closes(); n != 1 {
			t.Errorf("body closed %d times, want 1", n)
		}
	}
}

// noRedirects sends the conformance requests: a provider's key headers
// must never follow a redirect to another host.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
