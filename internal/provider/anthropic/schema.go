package anthropic

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// This file turns a JSON Schema into one Anthropic's structured outputs
// accept (output_config.format), by the rules the official SDKs apply
// before they send one (anthropic-sdk-go's transformSchema, which the
// tests compare against): Anthropic refuses numeric and length
// constraints, minItems above 1, string formats it does not know, and
// objects that allow additional properties. What it cannot keep is
// moved into the description, so the model still reads it.

// schemaKeys are the keywords Anthropic accepts; the others move to the
// description.
var schemaKeys = map[string]bool{
	"$ref": true, "$defs": true, "type": true, "anyOf": true, "oneOf": true, "allOf": true, "description": true,
	"title": true, "enum": true, "const": true, "properties": true, "additionalProperties": true, "required": true,
	"items": true, "minItems": true, "format": true, "pattern": true,
}

// stringFormats are the string formats Anthropic accepts.
var stringFormats = []string{"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}

// outputSchema returns raw, a JSON Schema, in the form Anthropic's
// structured outputs accept; param names the member it came from, for
// the 400 when it is not a schema object.
func outputSchema(raw json.RawMessage, param string) (json.RawMessage, error) {
	var s map[string]any
	if err := json.Unmarshal(raw, &s); err != nil || s == nil {
		return nil, openai.BadRequest(param, "%s must be a JSON Schema object", param)
	}
	return openai.Marshal(transformSchema(s))
}

// transformSchema rewrites one schema (and those it contains) in place
// and returns it.
func transformSchema(s map[string]any) map[string]any {
	if ref, ok := s["$ref"]; ok {
		return map[string]any{"$ref": ref} // $ref stands alone
	}
	extras := map[string]any{}
	for k, v := range s {
		if !schemaKeys[k] {
			if v != nil { // a null one ("default": null) says nothing
				extras[k] = v
			}
			delete(s, k)
		}
	}
	if defs, ok := s["$defs"].(map[string]any); ok {
		for _, d := range defs {
			transformSub(d)
		}
	}
	if one, ok := s["oneOf"]; ok {
		if _, has := s["anyOf"]; !has {
			s["anyOf"] = one
		}
		delete(s, "oneOf")
	}
	s["anyOf"] = transformList(s["anyOf"])
	s["allOf"] = transformList(s["allOf"])
	for _, k := range []string{"anyOf", "allOf"} {
		if s[k] == nil {
			delete(s, k)
		}
	}
	if !hasShape(s) {
		if len(s) > 0 || len(extras) > 0 {
			return map[string]any{} // no shape: the SDKs send it empty
		}
		return s
	}
	shape(s, extras)
	describe(s, extras)
	return s
}

// hasShape reports whether s says what its value is.
func hasShape(s map[string]any) bool {
	for _, k := range []string{"type", "anyOf", "allOf", "enum", "const"} {
		if _, ok := s[k]; ok {
			return true
		}
	}
	return false
}

// shape applies the rules of s's type: objects allow no additional
// properties (a map-like object keeps its value schema), strings keep
// only known formats, arrays a minItems of 0 or 1.
func shape(s map[string]any, extras map[string]any) {
	types := typeNames(s["type"])
	switch {
	case slices.Contains(types, "object"):
		if props, ok := s["properties"].(map[string]any); ok {
			for _, p := range props {
				transformSub(p)
			}
			s["additionalProperties"] = false
		} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
			transformSchema(ap)
		} else {
			s["properties"], s["additionalProperties"] = map[string]any{}, false
		}
	case slices.Contains(types, "string"):
		if f, ok := s["format"].(string); ok && !slices.Contains(stringFormats, f) {
			extras["format"] = f
			delete(s, "format")
		}
	case slices.Contains(types, "array"):
		transformSub(s["items"])
		if n, ok := s["minItems"].(float64); ok && n != 0 && n != 1 {
			extras["minItems"] = n
			delete(s, "minItems")
		}
	}
}

// typeNames is a schema's type as a list ("string" or ["string","null"]).
func typeNames(t any) []string {
	switch t := t.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, v := range t {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// transformSub transforms v when it is a schema object.
func transformSub(v any) {
	if m, ok := v.(map[string]any); ok {
		transformSchema(m)
	}
}

// transformList transforms the schemas of an anyOf or allOf, dropping
// those left empty (an empty variant would match anything); nil when
// none is left.
func transformList(v any) any {
	list, ok := v.([]any)
	if !ok {
		return v
	}
	var out []any
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			out = append(out, item)
			continue
		}
		if m = transformSchema(m); len(m) > 0 {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// describe appends the keywords Anthropic cannot keep to the
// description, as "{maxLength: 5, minimum: 0}", so the model reads them.
func describe(s map[string]any, extras map[string]any) {
	if len(extras) == 0 {
		return
	}
	keys := make([]string, 0, len(extras))
	for k := range extras {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + extraValue(extras[k])
	}
	text := "{" + strings.Join(parts, ", ") + "}"
	if d, _ := s["description"].(string); d != "" {
		text = d + "\n\n" + text
	}
	s["description"] = text
}

// extraValue renders a moved keyword's value: strings and numbers
// bare, anything else as JSON.
func extraValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64, bool:
		return fmt.Sprint(v)
	case nil:
		return "null"
	}
	b, _ := openai.Marshal(v)
	return string(b)
}
