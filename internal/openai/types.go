package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ChatRequest is a Chat Completions request body. Members it does not model
// are kept in Extra and sent upstream unchanged. The only normalisation a
// decode/encode round trip makes is that false booleans it models (stream,
// stream_options.include_usage) and null optional members are left out,
// which the API treats the same way.
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	N                   *int            `json:"n,omitempty"`
	Stop                json.RawMessage `json:"stop,omitempty"` // a string or an array of strings
	Seed                *int64          `json:"seed,omitempty"`
	PresencePenalty     *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty,omitempty"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	ResponseFormat      json.RawMessage `json:"response_format,omitempty"`
	ReasoningEffort     string          `json:"reasoning_effort,omitempty"`
	// Extra holds every other member, verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type chatRequestAlias ChatRequest

var chatRequestFields = JSONFields[chatRequestAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (r *ChatRequest) UnmarshalJSON(data []byte) error {
	extra, err := DecodeWithExtra(data, (*chatRequestAlias)(r), chatRequestFields)
	r.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (r ChatRequest) MarshalJSON() ([]byte, error) {
	return EncodeWithExtra(chatRequestAlias(r), r.Extra, chatRequestFields)
}

// IncludeUsage reports whether the request asks for the usage chunk at the
// end of a stream (stream_options.include_usage).
func (r *ChatRequest) IncludeUsage() bool {
	return r.StreamOptions != nil && r.StreamOptions.IncludeUsage
}

// StreamOptions is the stream_options member of a request.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage,omitempty"`
	// Extra holds every other member (include_obfuscation, …), verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type streamOptionsAlias StreamOptions

var streamOptionsFields = JSONFields[streamOptionsAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (o *StreamOptions) UnmarshalJSON(data []byte) error {
	extra, err := DecodeWithExtra(data, (*streamOptionsAlias)(o), streamOptionsFields)
	o.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (o StreamOptions) MarshalJSON() ([]byte, error) {
	return EncodeWithExtra(streamOptionsAlias(o), o.Extra, streamOptionsFields)
}

// Message is one chat message, in a request or in a non-streamed response.
type Message struct {
	Role             string     `json:"role"`
	Content          Content    `json:"content,omitzero"`
	Name             string     `json:"name,omitempty"`
	ToolCalls        []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID       string     `json:"tool_call_id,omitempty"`
	ReasoningContent string     `json:"reasoning_content,omitempty"`
	// Extra holds every other member (refusal, annotations, audio, …), verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type messageAlias Message

var messageFields = JSONFields[messageAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (m *Message) UnmarshalJSON(data []byte) error {
	extra, err := DecodeWithExtra(data, (*messageAlias)(m), messageFields)
	m.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (m Message) MarshalJSON() ([]byte, error) {
	return EncodeWithExtra(messageAlias(m), m.Extra, messageFields)
}

// Content is a message's content: a string, an array of parts, or null.
// The zero value is "absent" and is left out of the JSON.
type Content struct {
	// Text is the content when it is a plain string.
	Text string
	// Parts is the content when it is an array; non-nil selects that form.
	Parts []ContentPart
	kind  contentKind
}

type contentKind uint8

const (
	contentAbsent contentKind = iota
	contentNull
	contentString
	contentParts
)

// TextContent returns string content.
func TextContent(s string) Content { return Content{Text: s, kind: contentString} }

// PartsContent returns array content.
func PartsContent(parts ...ContentPart) Content {
	if parts == nil {
		parts = []ContentPart{}
	}
	return Content{Parts: parts, kind: contentParts}
}

// NullContent returns explicit null content (assistant messages that only
// carry tool calls).
func NullContent() Content { return Content{kind: contentNull} }

// IsZero reports whether the content is absent; absent content is omitted.
func (c Content) IsZero() bool { return c.kind == contentAbsent && c.Text == "" && c.Parts == nil }

// IsNull reports whether the content was JSON null.
func (c Content) IsNull() bool { return c.kind == contentNull }

// String returns the text of the content: the string itself, or the text
// parts joined.
func (c Content) String() string {
	if c.Parts == nil {
		return c.Text
	}
	var b bytes.Buffer
	for _, p := range c.Parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// MarshalJSON implements json.Marshaler.
func (c Content) MarshalJSON() ([]byte, error) {
	switch {
	case c.Parts != nil:
		return Marshal(c.Parts)
	case c.kind == contentNull && c.Text == "":
		return []byte("null"), nil
	default:
		return Marshal(c.Text)
	}
}

// UnmarshalJSON implements json.Unmarshaler.
func (c *Content) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		*c = NullContent()
		return nil
	case len(data) > 0 && data[0] == '"':
		*c = Content{kind: contentString}
		return json.Unmarshal(data, &c.Text)
	case len(data) > 0 && data[0] == '[':
		*c = Content{kind: contentParts}
		if err := json.Unmarshal(data, &c.Parts); err != nil {
			return err
		}
		if c.Parts == nil {
			c.Parts = []ContentPart{}
		}
		return nil
	default:
		return fmt.Errorf("content must be a string, an array of parts or null")
	}
}

// ContentPart is one element of array content.
type ContentPart struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	ImageURL *ImageURL `json:"image_url,omitempty"`
	// Extra holds every other member (input_audio, file, …), verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type contentPartAlias ContentPart

var contentPartFields = JSONFields[contentPartAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (p *ContentPart) UnmarshalJSON(data []byte) error {
	extra, err := DecodeWithExtra(data, (*contentPartAlias)(p), contentPartFields)
	p.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back. A text part
// always carries its text, even when empty.
func (p ContentPart) MarshalJSON() ([]byte, error) {
	if p.Type == "text" && p.Text == "" {
		type textPart struct {
			contentPartAlias
			Text string `json:"text"`
		}
		return EncodeWithExtra(textPart{contentPartAlias(p), ""}, p.Extra, contentPartFields)
	}
	return EncodeWithExtra(contentPartAlias(p), p.Extra, contentPartFields)
}

// ImageURL is the image_url member of an image part.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// ToolCall is a function call made by the assistant. In stream deltas Index
// identifies the call across chunks and only the first delta has ID and name.
type ToolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
	// Extra holds every other member (Gemini's extra_content with its
	// thought signature, …), verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type toolCallAlias ToolCall

var toolCallFields = JSONFields[toolCallAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (c *ToolCall) UnmarshalJSON(data []byte) error {
	extra, err := DecodeWithExtra(data, (*toolCallAlias)(c), toolCallFields)
	c.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (c ToolCall) MarshalJSON() ([]byte, error) {
	return EncodeWithExtra(toolCallAlias(c), c.Extra, toolCallFields)
}

// FunctionCall names the function and carries its arguments as a JSON
// string (a fragment of it, in stream deltas).
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Tool is one entry of a request's tools.
type Tool struct {
	Type     string              `json:"type"`
	Function *FunctionDefinition `json:"function,omitempty"`
	// Extra holds every other member (custom tools, …), verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type toolAlias Tool

var toolFields = JSONFields[toolAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (t *Tool) UnmarshalJSON(data []byte) error {
	extra, err := DecodeWithExtra(data, (*toolAlias)(t), toolFields)
	t.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (t Tool) MarshalJSON() ([]byte, error) {
	return EncodeWithExtra(toolAlias(t), t.Extra, toolFields)
}

// FunctionDefinition describes a function tool. Parameters is a JSON Schema.
type FunctionDefinition struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ChatResponse is a non-streamed Chat Completions response.
type ChatResponse struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	Choices           []Choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`
	SystemFingerprint string   `json:"system_fingerprint,omitempty"`
	// Extra holds every other member (service_tier, …), verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type chatResponseAlias ChatResponse

var chatResponseFields = JSONFields[chatResponseAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (r *ChatResponse) UnmarshalJSON(data []byte) error {
	extra, err := DecodeWithExtra(data, (*chatResponseAlias)(r), chatResponseFields)
	r.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (r ChatResponse) MarshalJSON() ([]byte, error) {
	if r.Choices == nil {
		r.Choices = []Choice{}
	}
	return EncodeWithExtra(chatResponseAlias(r), r.Extra, chatResponseFields)
}

// Choice is one choice of a non-streamed response.
type Choice struct {
	Index        int             `json:"index"`
	Message      Message         `json:"message"`
	FinishReason string          `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
	// Extra holds every other member, verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type choiceAlias Choice

var choiceFields = JSONFields[choiceAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (c *Choice) UnmarshalJSON(data []byte) error {
	extra, err := DecodeWithExtra(data, (*choiceAlias)(c), choiceFields)
	c.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (c Choice) MarshalJSON() ([]byte, error) {
	return EncodeWithExtra(choiceAlias(c), c.Extra, choiceFields)
}

// ChatChunk is one streamed chat.completion.chunk. A chunk with no choices
// and a usage is the usage chunk that ends a stream.
type ChatChunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	Choices           []ChunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage,omitempty"`
	SystemFingerprint string        `json:"system_fingerprint,omitempty"`
	// Extra holds every other member (service_tier, obfuscation, …), verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type chatChunkAlias ChatChunk

var chatChunkFields = JSONFields[chatChunkAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (c *ChatChunk) UnmarshalJSON(data []byte) error {
	extra, err := DecodeWithExtra(data, (*chatChunkAlias)(c), chatChunkFields)
	c.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (c ChatChunk) MarshalJSON() ([]byte, error) {
	if c.Choices == nil {
		c.Choices = []ChunkChoice{}
	}
	return EncodeWithExtra(chatChunkAlias(c), c.Extra, chatChunkFields)
}

// ChunkChoice is one choice of a streamed chunk. FinishReason is nil until
// the choice finishes.
type ChunkChoice struct {
	Index        int             `json:"index"`
	Delta        Delta           `json:"delta"`
	FinishReason *string         `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
	// Extra holds every other member, verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type chunkChoiceAlias ChunkChoice

var chunkChoiceFields = JSONFields[chunkChoiceAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (c *ChunkChoice) UnmarshalJSON(data []byte) error {
	extra, err := DecodeWithExtra(data, (*chunkChoiceAlias)(c), chunkChoiceFields)
	c.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (c ChunkChoice) MarshalJSON() ([]byte, error) {
	return EncodeWithExtra(chunkChoiceAlias(c), c.Extra, chunkChoiceFields)
}

// Delta is the incremental message of a chunk choice. Nil pointers are
// members the upstream did not send (or sent as null).
type Delta struct {
	Role             string     `json:"role,omitempty"`
	Content          *string    `json:"content,omitempty"`
	ReasoningContent *string    `json:"reasoning_content,omitempty"`
	Refusal          *string    `json:"refusal,omitempty"`
	ToolCalls        []ToolCall `json:"tool_calls,omitempty"`
	// Extra holds every other member, verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type deltaAlias Delta

var deltaFields = JSONFields[deltaAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (d *Delta) UnmarshalJSON(data []byte) error {
	extra, err := DecodeWithExtra(data, (*deltaAlias)(d), deltaFields)
	d.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (d Delta) MarshalJSON() ([]byte, error) {
	return EncodeWithExtra(deltaAlias(d), d.Extra, deltaFields)
}

// Usage is token usage. Upstream usage is authoritative; fields it has and
// this type does not model (DeepSeek's prompt_cache_hit_tokens, …) stay in
// Extra.
type Usage struct {
	PromptTokens            int                      `json:"prompt_tokens"`
	CompletionTokens        int                      `json:"completion_tokens"`
	TotalTokens             int                      `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
	// Extra holds every other member, verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type usageAlias Usage

var usageFields = JSONFields[usageAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (u *Usage) UnmarshalJSON(data []byte) error {
	extra, err := DecodeWithExtra(data, (*usageAlias)(u), usageFields)
	u.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (u Usage) MarshalJSON() ([]byte, error) {
	return EncodeWithExtra(usageAlias(u), u.Extra, usageFields)
}

// CachedTokens returns prompt_tokens_details.cached_tokens, or 0.
func (u *Usage) CachedTokens() int {
	if u == nil || u.PromptTokensDetails == nil {
		return 0
	}
	return u.PromptTokensDetails.CachedTokens
}

// CacheWriteTokens returns prompt_tokens_details.cache_write_tokens, or 0.
func (u *Usage) CacheWriteTokens() int {
	if u == nil || u.PromptTokensDetails == nil {
		return 0
	}
	return u.PromptTokensDetails.CacheWriteTokens
}

// ReasoningTokens returns completion_tokens_details.reasoning_tokens, or 0.
func (u *Usage) ReasoningTokens() int {
	if u == nil || u.CompletionTokensDetails == nil {
		return 0
	}
	return u.CompletionTokensDetails.ReasoningTokens
}

// PromptTokensDetails breaks prompt tokens down.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
	// CacheWriteTokens are prompt tokens written to the prompt cache
	// (OpenAI's and OpenRouter's name; Anthropic's cache_creation_input_tokens).
	CacheWriteTokens int `json:"cache_write_tokens,omitempty"`
	// Extra holds every other member (audio_tokens, …), verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type promptDetailsAlias PromptTokensDetails

var promptDetailsFields = JSONFields[promptDetailsAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (d *PromptTokensDetails) UnmarshalJSON(data []byte) error {
	extra, err := DecodeWithExtra(data, (*promptDetailsAlias)(d), promptDetailsFields)
	d.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (d PromptTokensDetails) MarshalJSON() ([]byte, error) {
	return EncodeWithExtra(promptDetailsAlias(d), d.Extra, promptDetailsFields)
}

// CompletionTokensDetails breaks completion tokens down. Reasoning tokens
// are included in completion_tokens (OpenAI's convention).
type CompletionTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
	// Extra holds every other member (audio_tokens, …), verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type completionDetailsAlias CompletionTokensDetails

var completionDetailsFields = JSONFields[completionDetailsAlias]()

// UnmarshalJSON implements json.Unmarshaler, keeping unknown members.
func (d *CompletionTokensDetails) UnmarshalJSON(data []byte) error {
	extra, err := DecodeWithExtra(data, (*completionDetailsAlias)(d), completionDetailsFields)
	d.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (d CompletionTokensDetails) MarshalJSON() ([]byte, error) {
	return EncodeWithExtra(completionDetailsAlias(d), d.Extra, completionDetailsFields)
}

// SignatureField is the message/delta member that carries a reasoning
// block's signature next to reasoning_content, for upstreams that sign
// their reasoning (Anthropic's thinking, Bedrock's reasoningContent): one
// convention for every client.
const SignatureField = "reasoning_signature"

// CacheUsage is the usage of an upstream that counts cache reads and
// writes apart from its input tokens (Anthropic, Bedrock): the prompt
// includes both, cache reads are cached tokens and cache writes
// cache_write_tokens.
func CacheUsage(input, output, cacheRead, cacheWrite int) *Usage {
	prompt := input + cacheRead + cacheWrite
	return &Usage{PromptTokens: prompt, CompletionTokens: output, TotalTokens: prompt + output,
		PromptTokensDetails: &PromptTokensDetails{CachedTokens: cacheRead, CacheWriteTokens: cacheWrite}}
}
