package responses

import (
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// A Responses request is read by hand for the shapes clients send —
// message, function-call and reasoning items, text parts, function
// tools — and by json.Unmarshal for the rest: each type's UnmarshalJSON
// made encoding/json validate its part of the body again, so a byte
// nested five levels deep was read about ten times (a 1.9 kB Codex
// request took 90 µs). The body is read once onto a tape
// (openai.WithValue), and each reader below fills its value exactly as
// json.Unmarshal would through the types' UnmarshalJSON
// (FuzzFastRequest holds the two equal), or reports false: Decode then
// decodes the whole body with json.Unmarshal, which also gives the
// errors. Members that are rare or have more forms (reasoning, text,
// include, metadata) are decoded one by one with json.Unmarshal. A
// member given null leaves its field zero, as json.Unmarshal does, but
// for a json.RawMessage, which holds null.

var requestNames = []string{"model", "instructions", "input", "stream", "tools", "tool_choice", "parallel_tool_calls",
	"max_output_tokens", "temperature", "top_p", "reasoning", "text", "previous_response_id", "store", "include", "metadata"}

// fastRequest reads a request's root into *dst.
func fastRequest(root openai.Value, dst *Request) bool {
	var r Request
	ok := openai.ReadMembers(root, requestNames, func(i int, v openai.Value) bool {
		if v.Type() == gjson.Null && requestNames[i] != "tool_choice" {
			return true // json.Unmarshal leaves the field zero
		}
		switch requestNames[i] {
		case "model":
			return v.ReadString(&r.Model)
		case "instructions":
			return v.ReadStringPtr(&r.Instructions)
		case "input":
			if v.Type() == gjson.String {
				r.Input.set = true
				return v.ReadString(&r.Input.Text)
			}
			r.Input.set = true
			return openai.ReadArray(v, &r.Input.Items, fastItem)
		case "stream":
			return v.ReadBoolPtr(&r.Stream)
		case "tools":
			var ts []Tool
			ok := openai.ReadArray(v, &ts, fastTool)
			r.Tools = ts
			return ok
		case "tool_choice":
			r.ToolChoice = v.ReadRaw()
			return true
		case "parallel_tool_calls":
			return v.ReadBoolPtr(&r.ParallelToolCalls)
		case "max_output_tokens":
			return v.ReadInt64Ptr(&r.MaxOutputTokens)
		case "temperature":
			return v.ReadFloatPtr(&r.Temperature)
		case "top_p":
			return v.ReadFloatPtr(&r.TopP)
		case "reasoning":
			return v.Unmarshal(&r.Reasoning)
		case "text":
			return v.Unmarshal(&r.Text)
		case "previous_response_id":
			return v.ReadStringPtr(&r.PreviousResponseID)
		case "store":
			return v.ReadBoolPtr(&r.Store)
		case "include":
			return v.Unmarshal(&r.Include)
		default: // metadata
			return v.Unmarshal(&r.Metadata)
		}
	}, &r.Extra)
	if ok {
		*dst = r
	}
	return ok
}

var itemNames = []string{"type", "id", "status", "role", "content", "call_id", "name", "arguments", "output", "summary", "encrypted_content"}

func fastItem(e openai.Value, it *Item) bool {
	return openai.ReadMembers(e, itemNames, func(i int, v openai.Value) bool {
		if v.Type() == gjson.Null && itemNames[i] != "output" {
			return true // json.Unmarshal leaves the field zero
		}
		switch itemNames[i] {
		case "type":
			return v.ReadString(&it.Type)
		case "id":
			return v.ReadString(&it.ID)
		case "status":
			return v.ReadString(&it.Status)
		case "role":
			return v.ReadString(&it.Role)
		case "content":
			it.Content.set = true
			if v.Type() == gjson.String {
				return v.ReadString(&it.Content.Text)
			}
			return openai.ReadArray(v, &it.Content.Parts, fastPart)
		case "call_id":
			return v.ReadString(&it.CallID)
		case "name":
			return v.ReadString(&it.Name)
		case "arguments":
			return v.ReadStringPtr(&it.Arguments)
		case "output":
			it.Output = v.ReadRaw()
			return true
		case "summary":
			return openai.ReadArray(v, &it.Summary, fastPart)
		default: // encrypted_content
			return v.ReadStringPtr(&it.EncryptedContent)
		}
	}, &it.Extra)
}

var partNames = []string{"type", "text", "refusal", "image_url", "detail", "file_id", "file_data", "file_url", "filename"}

func fastPart(e openai.Value, p *ContentPart) bool {
	return openai.ReadMembers(e, partNames, func(i int, v openai.Value) bool {
		if v.Type() == gjson.Null {
			return true // json.Unmarshal leaves the field zero
		}
		switch partNames[i] {
		case "type":
			return v.ReadString(&p.Type)
		case "text":
			return v.ReadString(&p.Text)
		case "refusal":
			return v.ReadString(&p.Refusal)
		case "image_url":
			return v.ReadStringPtr(&p.ImageURL)
		case "detail":
			return v.ReadString(&p.Detail)
		case "file_id":
			return v.ReadStringPtr(&p.FileID)
		case "file_data":
			return v.ReadStringPtr(&p.FileData)
		case "file_url":
			return v.ReadStringPtr(&p.FileURL)
		default: // filename
			return v.ReadString(&p.Filename)
		}
	}, &p.Extra)
}

var toolNames = []string{"type", "name", "description", "parameters", "strict"}

func fastTool(e openai.Value, t *Tool) bool {
	return openai.ReadMembers(e, toolNames, func(i int, v openai.Value) bool {
		if v.Type() == gjson.Null && i != 3 {
			return true // json.Unmarshal leaves the field zero (parameters, a json.RawMessage, holds null)
		}
		switch i {
		case 0:
			return v.ReadString(&t.Type)
		case 1:
			return v.ReadString(&t.Name)
		case 2:
			return v.ReadStringPtr(&t.Description)
		case 3:
			t.Parameters = v.ReadRaw()
			return true
		}
		return v.ReadBoolPtr(&t.Strict)
	}, &t.Extra)
}
