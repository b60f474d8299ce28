package testupstream

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// This file is what each fake verifies of structured outputs, as its
// service does before generating anything: OpenAI's response_format
// (a json_schema needs a name and a schema object; strict mode needs
// every object closed and all its properties required), DeepSeek's
// (JSON mode only: a json_schema is refused), Gemini's generationConfig
// (a schema needs responseMimeType application/json, responseSchema and
// responseJsonSchema exclude each other, responseSchema takes only its
// OpenAPI subset) and Anthropic's output_config.format (a json_schema
// whose objects allow no additional properties, without the numeric and
// length constraints it does not support).

var schemaName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// openAIFormatError is the 400 message for a response_format the
// flavor's service refuses, or "".
func openAIFormatError(f Flavor, body []byte) string {
	var req struct {
		ResponseFormat *struct {
			Type       string `json:"type"`
			JSONSchema *struct {
				Name   string         `json:"name"`
				Schema map[string]any `json:"schema"`
				Strict bool           `json:"strict"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if json.Unmarshal(body, &req) != nil || req.ResponseFormat == nil {
		return ""
	}
	rf := req.ResponseFormat
	switch {
	case f == DeepSeek && rf.Type == "json_schema":
		return "This response_format type is unavailable now"
	case rf.Type != "json_schema":
		return ""
	case rf.JSONSchema == nil || !schemaName.MatchString(rf.JSONSchema.Name):
		return "Missing required parameter: 'response_format.json_schema.name'."
	case rf.JSONSchema.Strict:
		if why := strictFault(rf.JSONSchema.Schema); why != "" {
			return fmt.Sprintf("Invalid schema for response_format '%s': %s", rf.JSONSchema.Name, why)
		}
	}
	return ""
}

// strictFault says why a schema cannot be used in strict mode, or "".
func strictFault(s map[string]any) string {
	if props, ok := s["properties"].(map[string]any); ok {
		if s["additionalProperties"] != false {
			return "'additionalProperties' is required to be supplied and to be false."
		}
		if req, _ := s["required"].([]any); len(req) != len(props) {
			return "'required' is required to be supplied and to be an array including every key in properties."
		}
		for _, p := range props {
			if m, ok := p.(map[string]any); ok {
				if why := strictFault(m); why != "" {
					return why
				}
			}
		}
	}
	if m, ok := s["items"].(map[string]any); ok {
		return strictFault(m)
	}
	return ""
}

// geminiSchemaKeys are the keywords of Gemini's OpenAPI-subset Schema.
var geminiSchemaKeys = map[string]bool{"type": true, "format": true, "description": true, "nullable": true, "enum": true,
	"items": true, "properties": true, "required": true, "minItems": true, "maxItems": true, "minimum": true, "maximum": true,
	"minLength": true, "maxLength": true, "pattern": true, "anyOf": true, "propertyOrdering": true, "title": true,
	"default": true, "example": true, "minProperties": true, "maxProperties": true}

// geminiConfigError is the 400 message for a generationConfig Gemini
// refuses, or "".
func geminiConfigError(body []byte) string {
	var req struct {
		GenerationConfig *struct {
			ResponseMimeType   string          `json:"responseMimeType"`
			ResponseSchema     map[string]any  `json:"responseSchema"`
			ResponseJSONSchema json.RawMessage `json:"responseJsonSchema"`
		} `json:"generationConfig"`
	}
	if json.Unmarshal(body, &req) != nil || req.GenerationConfig == nil {
		return ""
	}
	gc := req.GenerationConfig
	hasSchema := gc.ResponseSchema != nil || len(gc.ResponseJSONSchema) > 0
	switch {
	case gc.ResponseSchema != nil && len(gc.ResponseJSONSchema) > 0:
		return "response_schema and response_json_schema cannot both be set."
	case hasSchema && gc.ResponseMimeType != "application/json":
		return "response_mime_type must be application/json when a response schema is set."
	case len(gc.ResponseJSONSchema) > 0 && (gc.ResponseJSONSchema[0] != '{' || !json.Valid(gc.ResponseJSONSchema)):
		return "Invalid value at 'generation_config.response_json_schema'."
	}
	return unknownKey(gc.ResponseSchema, "generation_config.response_schema")
}

// unknownKey names a keyword outside Gemini's Schema, as Gemini does.
func unknownKey(s map[string]any, at string) string {
	for k, v := range s {
		if !geminiSchemaKeys[k] {
			return fmt.Sprintf("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", k, at)
		}
		if m, ok := v.(map[string]any); ok && k == "properties" {
			for name, p := range m {
				if pm, ok := p.(map[string]any); ok {
					if why := unknownKey(pm, at+".properties["+name+"]"); why != "" {
						return why
					}
				}
			}
		} else if m, ok := v.(map[string]any); ok {
			if why := unknownKey(m, at+"."+k); why != "" {
				return why
			}
		}
	}
	return ""
}

// anthropicUnsupported are the keywords Anthropic's structured outputs
// refuse.
var anthropicUnsupported = []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "maxItems"}

// anthropicFormatError is the 400 message for an output_config.format
// Anthropic refuses, or "".
func anthropicFormatError(body []byte) string {
	var req struct {
		OutputConfig *struct {
			Format *struct {
				Type   string         `json:"type"`
				Schema map[string]any `json:"schema"`
			} `json:"format"`
		} `json:"output_config"`
	}
	if json.Unmarshal(body, &req) != nil || req.OutputConfig == nil || req.OutputConfig.Format == nil {
		return ""
	}
	f := req.OutputConfig.Format
	if f.Type != "json_schema" || f.Schema == nil {
		return "output_config.format: Input tag '" + f.Type + "' found using 'type' does not match any of the expected tags: 'json_schema'"
	}
	return anthropicSchemaFault(f.Schema, "output_config.format.schema")
}

func anthropicSchemaFault(s map[string]any, at string) string {
	for _, k := range anthropicUnsupported {
		if _, ok := s[k]; ok {
			return fmt.Sprintf("%s: property '%s' is not supported", at, k)
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		if s["additionalProperties"] != false {
			return at + ": For 'object' type, 'additionalProperties' must be explicitly set to false"
		}
		for name, p := range props {
			if m, ok := p.(map[string]any); ok {
				if why := anthropicSchemaFault(m, at+".properties."+name); why != "" {
					return why
				}
			}
		}
	}
	for _, k := range []string{"items", "additionalProperties"} {
		if m, ok := s[k].(map[string]any); ok {
			if why := anthropicSchemaFault(m, at+"."+k); why != "" {
				return why
			}
		}
	}
	if defs, ok := s["$defs"].(map[string]any); ok {
		for name, d := range defs {
			if m, ok := d.(map[string]any); ok {
				if why := anthropicSchemaFault(m, at+".$defs."+name); why != "" {
					return why
				}
			}
		}
	}
	return ""
}
