package responses

import (
	"strconv"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// A Responses request is read by hand for the shapes clients send —
// message, function-call and reasoning items, text parts, function
// tools — and by json.Unmarshal for the rest: each type's UnmarshalJSON
// made encoding/json validate its part of the body again, so a byte
// nested five levels deep was read about ten times (a 1.9 kB Codex
// request took 90 µs). Each reader below fills its value exactly as
// json.Unmarshal would through the types' UnmarshalJSON
// (FuzzFastRequest holds the two equal), or reports false: Decode then
// decodes the whole body with json.Unmarshal, which also gives the
// errors. Members that are rare or have more forms (reasoning, text,
// include, metadata) are decoded one by one with json.Unmarshal. A
// member given null leaves its field zero, as json.Unmarshal does, but
// for a json.RawMessage, which holds null.

var requestNames = []string{"model", "instructions", "input", "stream", "tools", "tool_choice", "parallel_tool_calls",
	"max_output_tokens", "temperature", "top_p", "reasoning", "text", "previous_response_id", "store", "include", "metadata"}

// fastRequest reads a request's root (valid JSON) into *dst.
func fastRequest(root gjson.Result, dst *Request) bool {
	if !root.IsObject() {
		return false
	}
	var r Request
	ok := openai.MembersWithExtra(root, requestNames, func(i int, v gjson.Result) bool {
		if v.Type == gjson.Null && requestNames[i] != "tool_choice" {
			return true // json.Unmarshal leaves the field zero
		}
		switch requestNames[i] {
		case "model":
			return openai.OwnString(v, &r.Model)
		case "instructions":
			return openai.OwnStringPtr(v, &r.Instructions)
		case "input":
			if v.Type == gjson.String {
				r.Input.set = true
				return openai.OwnString(v, &r.Input.Text)
			}
			r.Input.set = true
			return openai.ArrayMember(v, &r.Input.Items, fastItem)
		case "stream":
			return openai.BoolPtrMember(v, &r.Stream)
		case "tools":
			var ts []Tool
			ok := openai.ArrayMember(v, &ts, fastTool)
			r.Tools = ts
			return ok
		case "tool_choice":
			r.ToolChoice = openai.RawMember(v)
			return true
		case "parallel_tool_calls":
			return openai.BoolPtrMember(v, &r.ParallelToolCalls)
		case "max_output_tokens":
			if v.Type != gjson.Number {
				return false
			}
			n, err := strconv.ParseInt(v.Raw, 10, 64)
			r.MaxOutputTokens = &n
			return err == nil
		case "temperature":
			return openai.FloatMember(v, &r.Temperature)
		case "top_p":
			return openai.FloatMember(v, &r.TopP)
		case "reasoning":
			return openai.UnmarshalMember(v, &r.Reasoning)
		case "text":
			return openai.UnmarshalMember(v, &r.Text)
		case "previous_response_id":
			return openai.OwnStringPtr(v, &r.PreviousResponseID)
		case "store":
			return openai.BoolPtrMember(v, &r.Store)
		case "include":
			return openai.UnmarshalMember(v, &r.Include)
		default: // metadata
			return openai.UnmarshalMember(v, &r.Metadata)
		}
	}, &r.Extra)
	if ok {
		*dst = r
	}
	return ok
}

var itemNames = []string{"type", "id", "status", "role", "content", "call_id", "name", "arguments", "output", "summary", "encrypted_content"}

func fastItem(e gjson.Result, it *Item) bool {
	return e.IsObject() && openai.MembersWithExtra(e, itemNames, func(i int, v gjson.Result) bool {
		if v.Type == gjson.Null && itemNames[i] != "output" {
			return true // json.Unmarshal leaves the field zero
		}
		switch itemNames[i] {
		case "type":
			return openai.OwnString(v, &it.Type)
		case "id":
			return openai.OwnString(v, &it.ID)
		case "status":
			return openai.OwnString(v, &it.Status)
		case "role":
			return openai.OwnString(v, &it.Role)
		case "content":
			it.Content.set = true
			if v.Type == gjson.String {
				return openai.OwnString(v, &it.Content.Text)
			}
			return openai.ArrayMember(v, &it.Content.Parts, fastPart)
		case "call_id":
			return openai.OwnString(v, &it.CallID)
		case "name":
			return openai.OwnString(v, &it.Name)
		case "arguments":
			return openai.OwnStringPtr(v, &it.Arguments)
		case "output":
			it.Output = openai.RawMember(v)
			return true
		case "summary":
			return openai.ArrayMember(v, &it.Summary, fastPart)
		default: // encrypted_content
			return openai.OwnStringPtr(v, &it.EncryptedContent)
		}
	}, &it.Extra)
}

var partNames = []string{"type", "text", "refusal", "image_url", "detail", "file_id", "file_data", "file_url", "filename"}

func fastPart(e gjson.Result, p *ContentPart) bool {
	return e.IsObject() && openai.MembersWithExtra(e, partNames, func(i int, v gjson.Result) bool {
		if v.Type == gjson.Null {
			return true // json.Unmarshal leaves the field zero
		}
		switch partNames[i] {
		case "type":
			return openai.OwnString(v, &p.Type)
		case "text":
			return openai.OwnString(v, &p.Text)
		case "refusal":
			return openai.OwnString(v, &p.Refusal)
		case "image_url":
			return openai.OwnStringPtr(v, &p.ImageURL)
		case "detail":
			return openai.OwnString(v, &p.Detail)
		case "file_id":
			return openai.OwnStringPtr(v, &p.FileID)
		case "file_data":
			return openai.OwnStringPtr(v, &p.FileData)
		case "file_url":
			return openai.OwnStringPtr(v, &p.FileURL)
		default: // filename
			return openai.OwnString(v, &p.Filename)
		}
	}, &p.Extra)
}

var toolNames = []string{"type", "name", "description", "parameters", "strict"}

func fastTool(e gjson.Result, t *Tool) bool {
	return e.IsObject() && openai.MembersWithExtra(e, toolNames, func(i int, v gjson.Result) bool {
		if v.Type == gjson.Null && i != 3 {
			return true // json.Unmarshal leaves the field zero (parameters, a json.RawMessage, holds null)
		}
		switch i {
		case 0:
			return openai.OwnString(v, &t.Type)
		case 1:
			return openai.OwnString(v, &t.Name)
		case 2:
			return openai.OwnStringPtr(v, &t.Description)
		case 3:
			t.Parameters = openai.RawMember(v)
			return true
		}
		return openai.BoolPtrMember(v, &t.Strict)
	}, &t.Extra)
}
