package bedrock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// The Converse response.
type (
	response struct {
		Output struct {
			Message struct {
				Content []rblock `json:"content"`
			} `json:"message"`
		} `json:"output"`
		StopReason string    `json:"stopReason"`
		Usage      usageJSON `json:"usage"`
	}
	rblock struct {
		Text             *string `json:"text"`
		ToolUse          *rtool  `json:"toolUse"`
		ReasoningContent *struct {
			ReasoningText *reasoningText `json:"reasoningText"`
		} `json:"reasoningContent"`
	}
	rtool struct {
		ToolUseID string          `json:"toolUseId"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
	}
	usageJSON struct {
		InputTokens           int `json:"inputTokens"`
		OutputTokens          int `json:"outputTokens"`
		CacheReadInputTokens  int `json:"cacheReadInputTokens"`
		CacheWriteInputTokens int `json:"cacheWriteInputTokens"`
	}
)

// usage maps Bedrock's counts: inputTokens excludes the cache reads and
// writes, which the prompt includes; cache reads are cached tokens and
// cache writes cache_write_tokens.
func (u usageJSON) usage() *openai.Usage {
	return openai.CacheUsage(u.InputTokens, u.OutputTokens, u.CacheReadInputTokens, u.CacheWriteInputTokens)
}

// finishReason maps Converse's stopReason.
func finishReason(r string) string {
	switch r {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "guardrail_intervened", "content_filtered":
		return "content_filter"
	}
	return "stop" // end_turn, stop_sequence, malformed_model_output, malformed_tool_use
}

// responseID names a response by its AWS request id.
func responseID(resp *http.Response) string {
	if id := resp.Header.Get("X-Amzn-Requestid"); id != "" {
		return "chatcmpl-" + id
	}
	return "chatcmpl-bedrock"
}

// DecodeResponse translates a Converse response and closes the body.
func (p *Provider) DecodeResponse(resp *http.Response) (*openai.ChatResponse, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding Bedrock response: %w", err)
	}
	msg := openai.Message{Role: "assistant"}
	var text, thoughts strings.Builder
	sig := ""
	for _, b := range r.Output.Message.Content {
		switch {
		case b.Text != nil:
			text.WriteString(*b.Text)
		case b.ToolUse != nil:
			msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: b.ToolUse.ToolUseID, Type: "function",
				Function: openai.FunctionCall{Name: b.ToolUse.Name, Arguments: inputJSON(b.ToolUse.Input)}})
		case b.ReasoningContent != nil && b.ReasoningContent.ReasoningText != nil:
			thoughts.WriteString(b.ReasoningContent.ReasoningText.Text)
			sig = b.ReasoningContent.ReasoningText.Signature
		}
	}
	msg.Content = openai.TextContent(text.String())
	if text.Len() == 0 && len(msg.ToolCalls) > 0 {
		msg.Content = openai.NullContent()
	}
	msg.ReasoningContent = thoughts.String()
	if sig != "" {
		raw, _ := openai.Marshal(sig)
		msg.Extra = map[string]json.RawMessage{openai.SignatureField: raw}
	}
	return &openai.ChatResponse{ID: responseID(resp), Object: "chat.completion", Created: time.Now().Unix(), Model: modelOf(resp),
		Choices: []openai.Choice{{Message: msg, FinishReason: finishReason(r.StopReason)}}, Usage: r.Usage.usage()}, nil
}

// inputJSON is a tool call's arguments: the input object, {} when empty.
func inputJSON(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return "{}"
	}
	return string(raw)
}

// redactToken removes the request's session token from text an upstream
// echoed back (the API key is redacted by apiError; the secret key is
// never sent).
func redactToken(resp *http.Response, s string) string {
	if resp.Request == nil {
		return s
	}
	if tok := resp.Request.Header.Get("X-Amz-Security-Token"); len(tok) >= 8 {
		return strings.ReplaceAll(s, tok, "[redacted]")
	}
	return s
}

// exceptionStatus is the HTTP status of each Bedrock Runtime exception,
// as the API reference lists it; in-stream exceptions carry no status of
// their own.
var exceptionStatus = map[string]int{
	"ValidationException": 400, "ServiceQuotaExceededException": 400,
	"AccessDeniedException": 403, "UnrecognizedClientException": 403, "InvalidSignatureException": 403,
	"ExpiredTokenException": 403, "MissingAuthenticationTokenException": 403, "IncompleteSignatureException": 403,
	"ResourceNotFoundException": 404, "ModelTimeoutException": 408, "ModelErrorException": 424,
	"ModelStreamErrorException": 424, "ThrottlingException": 429, "ModelNotReadyException": 429,
	"InternalServerException": 500, "ServiceUnavailableException": 503,
}

// exceptionName reads an exception type from x-amzn-ErrorType or a
// body's __type ("ThrottlingException:http://…", "com.amazon…#ValidationException"),
// or from an event-stream frame's :exception-type (lowerCamel).
func exceptionName(s string) string {
	s, _, _ = strings.Cut(s, ":")
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		s = s[i+1:]
	}
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

// apiError builds the error of exception name with message msg; status 0
// (in-stream exceptions) takes the exception's status, 502 when unknown.
func (p *Provider) apiError(status int, name, msg string) *openai.APIError {
	if status == 0 {
		status = http.StatusBadGateway
		if s, ok := exceptionStatus[name]; ok {
			status = s
		}
	}
	t := openai.TypeInvalidRequest
	switch {
	case status == http.StatusTooManyRequests:
		t = "rate_limit_exceeded"
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		t = openai.TypeAuthentication
	case status >= 500:
		t = openai.TypeServer
	}
	if msg == "" {
		msg = fmt.Sprintf("upstream %s returned %s", p.Name(), name)
	}
	return &openai.APIError{Status: status, Type: t, Code: name, Message: p.Redact(msg), Provider: p.Name()}
}

// DecodeError translates an exception response — its type in the
// x-amzn-ErrorType header, {"message": …} in the body — into an
// *openai.APIError with the upstream's status and Retry-After.
func (p *Provider) DecodeError(resp *http.Response) error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e struct {
		Message string `json:"message"` // also "Message": decoding ignores case
		Type    string `json:"__type"`
	}
	_ = json.Unmarshal(body, &e)
	name := exceptionName(resp.Header.Get("X-Amzn-Errortype"))
	if name == "" {
		name = exceptionName(e.Type)
	}
	msg := e.Message
	if msg == "" {
		text := strings.TrimSpace(string(body))
		if len(text) > 200 {
			text = text[:200] + "…"
		}
		msg = fmt.Sprintf("upstream %s returned HTTP %d: %s", p.Name(), resp.StatusCode, text)
	}
	out := p.apiError(resp.StatusCode, name, redactToken(resp, msg))
	out.RetryAfter = resp.Header.Get("Retry-After")
	if name == "ExpiredTokenException" {
		p.invalidate()
	}
	return out
}

// invalidate drops the cached credentials after AWS called them expired
// (a revoked session, a skewed clock): the next request fetches new ones
// instead of failing until the cache's own expiry.
func (p *Provider) invalidate() {
	if c, ok := p.creds.(*aws.CredentialsCache); ok {
		c.Invalidate()
	}
}
