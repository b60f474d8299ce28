package azure

import (
	"bytes"
	"io"
	"iter"
	"net/http"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// maxErrorBytes bounds how much of an error body is read.
const maxErrorBytes = 1 << 20

// DecodeResponse decodes a non-streamed 2xx response (OpenAI's shape; the
// content filter members are kept among the unknown ones) and closes its
// body.
func (p *Provider) DecodeResponse(resp *http.Response) (*openai.ChatResponse, error) {
	return p.wire.DecodeResponse(resp)
}

// DecodeStream yields the chunks of a 2xx stream; Azure's first chunk,
// which has no choices but prompt_filter_results, is yielded like any
// other. It owns resp.Body and closes it on every exit.
func (p *Provider) DecodeStream(resp *http.Response) iter.Seq2[*openai.ChatChunk, error] {
	return p.wire.DecodeStream(resp)
}

// DecodeError turns a non-2xx response into an *openai.APIError with
// Azure's status, message, code and param, and Retry-After; it closes the
// body. Azure's shapes: {"error":{"code":"404","message":…}},
// {"error":{"code":"BadRequest","message":"API version not supported"}},
// and the content filter's 400 {"error":{"message","type":null,
// "param":"prompt","code":"content_filter","status":400,"innererror":
// {"code":"ResponsibleAIPolicyViolation","content_filter_result":{…}}}},
// whose filtered categories are named in the message.
func (p *Provider) DecodeError(resp *http.Response) error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	e := parseError(resp.StatusCode, body)
	e.Provider = p.Name()
	e.RetryAfter = resp.Header.Get("Retry-After")
	token := ""
	if resp.Request != nil {
		token = strings.TrimPrefix(resp.Request.Header.Get("Authorization"), "Bearer ")
	}
	for _, s := range []*string{&e.Message, &e.Param, &e.Code, &e.Type} {
		*s = p.Redact(*s)
		if len(token) >= 8 {
			*s = strings.ReplaceAll(*s, token, "[redacted]")
		}
	}
	return e
}

// parseError reads an Azure error body.
func parseError(status int, body []byte) *openai.APIError {
	e := &openai.APIError{Status: status}
	obj := gjson.GetBytes(bytes.TrimSpace(body), "error")
	if obj.IsObject() {
		e.Message = obj.Get("message").String()
		e.Param = scalar(obj.Get("param"))
		e.Code = scalar(obj.Get("code"))
		if t := obj.Get("type"); t.Type == gjson.String {
			e.Type = t.Str
		}
		if inner := obj.Get("innererror"); inner.IsObject() {
			e.Message += innerNote(inner)
		}
	}
	if e.Message == "" {
		text := strings.TrimSpace(string(body))
		if len(text) > 200 {
			text = text[:200] + "…"
		}
		if text == "" {
			text = http.StatusText(status)
		}
		e.Message = "Azure OpenAI returned HTTP " + strconv.Itoa(status) + ": " + text
	}
	if e.Type == "" {
		switch {
		case status >= 500:
			e.Type = openai.TypeUpstream
		default:
			e.Type = openai.TypeInvalidRequest
		}
	}
	return e
}

// innerNote names an innererror's code and the content filter categories
// that filtered: " (ResponsibleAIPolicyViolation: jailbreak, violence)".
func innerNote(inner gjson.Result) string {
	var filtered []string
	inner.Get("content_filter_result").ForEach(func(k, v gjson.Result) bool {
		if v.Get("filtered").Bool() {
			filtered = append(filtered, k.String())
		}
		return true
	})
	code := inner.Get("code").String()
	if code == "" && len(filtered) == 0 {
		return ""
	}
	note := " (" + code
	if len(filtered) > 0 {
		if code != "" {
			note += ": "
		}
		note += "filtered " + strings.Join(filtered, ", ")
	}
	return note + ")"
}

func scalar(r gjson.Result) string {
	switch r.Type {
	case gjson.String:
		return r.Str
	case gjson.Number:
		return r.Raw
	}
	return ""
}
