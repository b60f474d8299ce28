package gemini

import (
	"encoding/json"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// schemaKeys are the JSON Schema keywords Gemini's OpenAPI-subset Schema
// accepts; it answers 400 to any other ("Unknown name additionalProperties").
var schemaKeys = map[string]bool{
	"type": true, "format": true, "description": true, "nullable": true, "enum": true,
	"items": true, "properties": true, "required": true, "minItems": true, "maxItems": true,
	"minimum": true, "maximum": true, "minLength": true, "maxLength": true, "pattern": true,
	"anyOf": true, "propertyOrdering": true, "title": true, "default": true, "example": true,
	"minProperties": true, "maxProperties": true,
}

// sanitizeSchema keeps only what Gemini accepts, recursively, and turns
// "type": ["string","null"] into "type": "string" with "nullable": true.
func sanitizeSchema(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return raw
	}
	out, _ := openai.Marshal(clean(v, false))
	return out
}

// clean sanitises one schema; inProps means v is a "properties" map whose
// keys are property names, not keywords.
func clean(v any, inProps bool) any {
	m, ok := v.(map[string]any)
	if !ok {
		if a, ok := v.([]any); ok {
			for i := range a {
				a[i] = clean(a[i], false)
			}
		}
		return v
	}
	out := map[string]any{}
	for k, val := range m {
		switch {
		case inProps:
			out[k] = clean(val, false)
		case k == "properties":
			out[k] = clean(val, true)
		case k == "const":
			if _, has := m["enum"]; !has {
				out["enum"] = []any{val}
			}
		case k == "type":
			if types, ok := val.([]any); ok {
				for _, t := range types {
					if t == "null" {
						out["nullable"] = true
					} else if _, set := out["type"]; !set {
						out["type"] = t
					}
				}
				continue
			}
			out[k] = val
		case schemaKeys[k]:
			out[k] = clean(val, false)
		}
	}
	return out
}
