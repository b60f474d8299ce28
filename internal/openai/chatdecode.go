package openai

import (
	"encoding/json"

	"github.com/tidwall/gjson"
)

// UnmarshalChat decodes a Chat Completions request into *req, a zero
// value (the request read by hand replaces it whole, where json.Unmarshal
// would merge), as json.Unmarshal does — the same request, the same
// errors — for the
// requests the bridge translates (to Anthropic, Gemini, Bedrock, …).
//
// Through the types' UnmarshalJSON, encoding/json validated each nested
// part of the body again and decoded every member twice (once to find the
// unknown ones): the typical 2 kB request took 70 µs and 146 allocations,
// and its nested decoders took the handler past its first 8 KiB of stack.
// Here the body is read once onto a tape (WithValue) and the readers below
// fill the request by hand, the way json.Unmarshal would
// (FuzzUnmarshalChat holds the two equal). Anything they do not take — a
// name given twice or a case variant of a known one, a null inside an
// array, a value of another type — goes to json.Unmarshal, on a fresh
// request, which also gives every error.
//
// A member given null leaves its field zero, as json.Unmarshal does, but
// for a json.RawMessage, which holds null, and for content, which is then
// NullContent.
func UnmarshalChat(data []byte, req *ChatRequest) error {
	done := false
	WithValue(data, func(root Value) {
		var r ChatRequest
		if fastChat(root, &r) {
			*req, done = r, true
		}
	})
	if done {
		return nil
	}
	return json.Unmarshal(data, req)
}

// UnmarshalResponse decodes a non-streamed Chat Completions response into
// *r, a zero value (see UnmarshalChat), as json.Unmarshal does — the same response, the same errors — the
// way UnmarshalChat decodes a request (FuzzUnmarshalResponse holds the two
// equal): for the answers the bridge translates for a Messages or
// Responses client.
func UnmarshalResponse(data []byte, r *ChatResponse) error {
	done := false
	WithValue(data, func(root Value) {
		var out ChatResponse
		if fastResponse(root, &out) {
			*r, done = out, true
		}
	})
	if done {
		return nil
	}
	return json.Unmarshal(data, r)
}

// fastResponse reads a response's root into *r.
func fastResponse(root Value, r *ChatResponse) bool {
	return ReadMembers(root, responseNames, func(i int, v Value) bool {
		if v.Type() == gjson.Null {
			return true // json.Unmarshal leaves the field zero
		}
		switch i {
		case 0:
			return v.ReadString(&r.ID)
		case 1:
			return v.ReadString(&r.Object)
		case 2:
			return intField(v, &r.Created)
		case 3:
			return v.ReadString(&r.Model)
		case 4:
			return ReadArray(v, &r.Choices, fastChoice)
		case 5:
			var ok bool
			r.Usage, ok = readUsage(v, true)
			return ok
		default:
			return v.ReadString(&r.SystemFingerprint)
		}
	}, &r.Extra)
}

// fastChoice reads one choice of a response. A null message is
// Message.UnmarshalJSON's no-op.
func fastChoice(v Value, c *Choice) bool {
	return ReadMembers(v, responseChoiceNames, func(i int, v Value) bool {
		if i == 3 {
			c.Logprobs = v.ReadRaw() // null too
			return true
		}
		if v.Type() == gjson.Null {
			return true
		}
		switch i {
		case 0:
			return v.ReadInt(&c.Index)
		case 1:
			return fastMessage(v, &c.Message)
		default:
			return v.ReadString(&c.FinishReason)
		}
	}, &c.Extra)
}

// The JSON names of the request's and the response's types, in the order
// of the readers' switches (TestChatReaderNames holds them to the types').
var (
	chatNames = []string{"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature",
		"top_p", "n", "stop", "seed", "presence_penalty", "frequency_penalty", "tools", "tool_choice", "response_format", "reasoning_effort"}
	messageNames        = []string{"role", "content", "name", "tool_calls", "tool_call_id", "reasoning_content"}
	partNames           = []string{"type", "text", "image_url"}
	imageURLNames       = []string{"url", "detail"}
	toolCallNames       = []string{"index", "id", "type", "function"}
	functionCallNames   = []string{"name", "arguments"}
	toolNames           = []string{"type", "function"}
	functionDefNames    = []string{"name", "description", "parameters", "strict"}
	streamOptionsNames  = []string{"include_usage"}
	responseNames       = []string{"id", "object", "created", "model", "choices", "usage", "system_fingerprint"}
	responseChoiceNames = []string{"index", "message", "finish_reason", "logprobs"}
)

// fastChat reads a request's root into *r.
func fastChat(root Value, r *ChatRequest) bool {
	return ReadMembers(root, chatNames, func(i int, v Value) bool {
		switch i {
		case 9: // stop, tool_choice and response_format are kept as they are, null too
			r.Stop = v.ReadRaw()
			return true
		case 14:
			r.ToolChoice = v.ReadRaw()
			return true
		case 15:
			r.ResponseFormat = v.ReadRaw()
			return true
		}
		if v.Type() == gjson.Null {
			return true // json.Unmarshal leaves the field zero
		}
		switch i {
		case 0:
			return v.ReadString(&r.Model)
		case 1:
			return ReadArray(v, &r.Messages, fastMessage)
		case 2:
			return v.ReadBool(&r.Stream)
		case 3:
			o := new(StreamOptions)
			r.StreamOptions = o
			return ReadMembers(v, streamOptionsNames, func(_ int, v Value) bool {
				return v.Type() == gjson.Null || v.ReadBool(&o.IncludeUsage)
			}, &o.Extra)
		case 4:
			return readIntPtr(v, &r.MaxTokens)
		case 5:
			return readIntPtr(v, &r.MaxCompletionTokens)
		case 6:
			return v.ReadFloatPtr(&r.Temperature)
		case 7:
			return v.ReadFloatPtr(&r.TopP)
		case 8:
			return readIntPtr(v, &r.N)
		case 10:
			return v.ReadInt64Ptr(&r.Seed)
		case 11:
			return v.ReadFloatPtr(&r.PresencePenalty)
		case 12:
			return v.ReadFloatPtr(&r.FrequencyPenalty)
		case 13:
			return ReadArray(v, &r.Tools, fastTool)
		default:
			return v.ReadString(&r.ReasoningEffort)
		}
	}, &r.Extra)
}

// readIntPtr reads an integer that fits an int into a *int field.
func readIntPtr(v Value, dst **int) bool {
	n := new(int)
	*dst = n
	return v.ReadInt(n)
}

// fastMessage reads one message; a null element goes to json.Unmarshal.
func fastMessage(v Value, m *Message) bool {
	return ReadMembers(v, messageNames, func(i int, v Value) bool {
		if i == 1 {
			return fastContent(v, &m.Content)
		}
		if v.Type() == gjson.Null {
			return true
		}
		switch i {
		case 0:
			return v.ReadString(&m.Role)
		case 2:
			return v.ReadString(&m.Name)
		case 3:
			return ReadArray(v, &m.ToolCalls, fastToolCall)
		case 4:
			return v.ReadString(&m.ToolCallID)
		default:
			return v.ReadString(&m.ReasoningContent)
		}
	}, &m.Extra)
}

// fastContent reads content as Content.UnmarshalJSON does: a string, an
// array of parts (never nil), or null.
func fastContent(v Value, c *Content) bool {
	switch v.Type() {
	case gjson.Null:
		*c = NullContent()
		return true
	case gjson.String:
		*c = Content{kind: contentString}
		return v.ReadString(&c.Text)
	}
	*c = Content{kind: contentParts}
	return ReadArray(v, &c.Parts, fastPart)
}

// fastPart reads one content part.
func fastPart(v Value, p *ContentPart) bool {
	return ReadMembers(v, partNames, func(i int, v Value) bool {
		if v.Type() == gjson.Null {
			return true
		}
		switch i {
		case 0:
			return v.ReadString(&p.Type)
		case 1:
			return v.ReadString(&p.Text)
		default:
			u := new(ImageURL)
			p.ImageURL = u
			return ReadMembers(v, imageURLNames, func(i int, v Value) bool {
				if i == 0 {
					return v.Type() == gjson.Null || v.ReadString(&u.URL)
				}
				return v.Type() == gjson.Null || v.ReadString(&u.Detail)
			}, nil)
		}
	}, &p.Extra)
}

// fastToolCall reads one of an assistant message's tool calls.
func fastToolCall(v Value, c *ToolCall) bool {
	return ReadMembers(v, toolCallNames, func(i int, v Value) bool {
		if v.Type() == gjson.Null {
			return true
		}
		switch i {
		case 0:
			return readIntPtr(v, &c.Index)
		case 1:
			return v.ReadString(&c.ID)
		case 2:
			return v.ReadString(&c.Type)
		default:
			f := &c.Function
			return ReadMembers(v, functionCallNames, func(i int, v Value) bool {
				if i == 0 {
					return v.Type() == gjson.Null || v.ReadString(&f.Name)
				}
				return v.Type() == gjson.Null || v.ReadString(&f.Arguments)
			}, nil)
		}
	}, &c.Extra)
}

// fastTool reads one entry of tools.
func fastTool(v Value, t *Tool) bool {
	return ReadMembers(v, toolNames, func(i int, v Value) bool {
		if v.Type() == gjson.Null {
			return true
		}
		if i == 0 {
			return v.ReadString(&t.Type)
		}
		f := new(FunctionDefinition)
		t.Function = f
		return ReadMembers(v, functionDefNames, func(i int, v Value) bool {
			switch {
			case i == 2:
				f.Parameters = v.ReadRaw()
				return true
			case v.Type() == gjson.Null:
				return true
			case i == 0:
				return v.ReadString(&f.Name)
			case i == 1:
				return v.ReadString(&f.Description)
			default:
				return v.ReadBoolPtr(&f.Strict)
			}
		}, nil)
	}, &t.Extra)
}
