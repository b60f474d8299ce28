package tracing

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
)

// scanBody passes an answer's bytes through unchanged and notes the
// finish reasons it names, in any of the wire families' spellings
// (OpenAI's finish_reason, Anthropic's stop_reason, Gemini's
// finishReason), without decoding or copying it: each read is searched
// where it lies, and a key or value split between two reads is found in
// a small window of the previous read's tail and this one's head.
type scanBody struct {
	io.ReadCloser
	tail    []byte // the last bytes of the previous read (in tailBuf)
	tailBuf [tailKeep]byte
	win     [2 * tailKeep]byte
	reasons []string // distinct, in order of appearance, at most maxReasons
	closed  func()
	done    bool
}

const (
	maxReasons   = 8
	maxReasonLen = 40
	tailKeep     = 64 // longer than a key, its separator and a value
)

var reasonKeys = [][]byte{[]byte(`"finish_reason"`), []byte(`"stop_reason"`), []byte(`"finishReason"`)}

func (s *scanBody) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	if n > 0 && len(s.reasons) < maxReasons {
		s.scan(p[:n])
	}
	return n, err
}

func (s *scanBody) Close() error {
	s.end()
	return s.ReadCloser.Close()
}

var _ endpoint.Ender = (*scanBody)(nil) // a stream's end passes through it

// EndStream: the stream's last event was read, and the attempt ends now.
// The body's end is read beneath, by the Bridge, after the request.
func (s *scanBody) EndStream() bool {
	s.end()
	return endpoint.PassEnd(s.ReadCloser)
}

func (s *scanBody) end() {
	if !s.done {
		s.done = true
		s.closed()
	}
}

// scan notes the reasons in p, and those whose key began in the previous
// read's tail and ends in p.
func (s *scanBody) scan(p []byte) {
	if len(s.tail) > 0 {
		w := append(append(s.win[:0], s.tail...), p[:min(len(p), tailKeep)]...)
		s.find(w, len(s.tail))
	}
	s.find(p, -1)
	s.tail = append(s.tailBuf[:0], p[len(p)-min(len(p), tailKeep):]...)
}

// find notes the complete reasons in b; with split ≥ 0, only those whose
// key starts before split and whose value ends after it.
func (s *scanBody) find(b []byte, split int) {
	for _, k := range reasonKeys {
		for from := 0; ; {
			i := bytes.Index(b[from:], k)
			if i < 0 || split >= 0 && from+i >= split {
				break
			}
			i += from
			from = i + len(k)
			v, end, ok := quotedValue(b, from)
			if ok && end > split && !slices.Contains(s.reasons, v) && len(s.reasons) < maxReasons && v != "" {
				s.reasons = append(s.reasons, v)
			}
		}
	}
}

// quotedValue reads `: "value"` at b[i:], a short string without escapes.
func quotedValue(b []byte, i int) (string, int, bool) {
	for i < len(b) && (b[i] == ' ' || b[i] == ':' || b[i] == '\t') {
		i++
	}
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	j := bytes.IndexByte(b[i+1:], '"')
	if j < 0 || j > maxReasonLen || bytes.IndexByte(b[i+1:i+1+j], '\\') >= 0 {
		return "", 0, false
	}
	return string(b[i+1 : i+1+j]), i + 2 + j, true
}

// inputMessages is the prompt as gen_ai.input.messages: each message's
// role and its text and tool calls as parts, at most MaxContentBytes of
// JSON; "" when the request has no chat form.
func inputMessages(r *llmbridge.Request) string {
	req, err := r.Chat()
	if err != nil || req == nil {
		return ""
	}
	type part struct {
		Type      string `json:"type"`
		Content   string `json:"content,omitempty"`
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments,omitempty"`
	}
	type message struct {
		Role  string `json:"role"`
		Parts []part `json:"parts"`
	}
	msgs := make([]message, 0, len(req.Messages))
	for _, m := range req.Messages {
		msg := message{Role: m.Role, Parts: []part{}}
		if t := m.Content.String(); t != "" {
			msg.Parts = append(msg.Parts, part{Type: "text", Content: t})
		}
		for _, tc := range m.ToolCalls {
			msg.Parts = append(msg.Parts, part{Type: "tool_call", Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
		msgs = append(msgs, msg)
	}
	b, err := json.Marshal(msgs)
	if err != nil {
		return ""
	}
	if len(b) > MaxContentBytes {
		b = append(b[:MaxContentBytes:MaxContentBytes], "…"...)
	}
	return string(b)
}
