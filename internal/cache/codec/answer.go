package codec

import (
	"encoding/json"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// EntryOf returns the canonical entry of a typed answer: the response r
// when it is not nil, else the streamed chunks (each encoded with
// openai.Marshal). Only the answer members are set; the caller stamps
// Stored, Provider and UpstreamModel. The error is an encoding error.
func EntryOf(r *openai.ChatResponse, chunks []*openai.ChatChunk) (*Entry, error) {
	e := &Entry{}
	var err error
	if r != nil {
		e.Response, err = openai.Marshal(r)
		return e, err
	}
	e.Chunks = make([]json.RawMessage, len(chunks))
	for i, ch := range chunks {
		if e.Chunks[i], err = openai.Marshal(ch); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Clean reports whether every choice of a canonical answer finished
// normally: it has at least one choice, and no choice ended without a
// finish_reason or with one that cuts or withholds the answer
// (openai.BadFinish). A native entry reports true: its format checks it
// when the entry is made.
func (e *Entry) Clean() bool {
	if e.Format != "" {
		return true
	}
	if e.Response != nil {
		ok, n := true, 0
		gjson.GetBytes(e.Response, "choices").ForEach(func(_, c gjson.Result) bool {
			n++
			ok = !openai.BadFinish(c.Get("finish_reason").Str)
			return ok
		})
		return ok && n > 0
	}
	finish := map[int64]string{}
	for _, ch := range e.Chunks {
		gjson.GetBytes(ch, "choices").ForEach(func(_, c gjson.Result) bool {
			f := c.Get("finish_reason")
			if i := c.Get("index").Int(); f.Type == gjson.String {
				finish[i] = f.Str
			} else if _, ok := finish[i]; !ok {
				finish[i] = ""
			}
			return true
		})
	}
	if len(finish) == 0 {
		return false
	}
	for _, f := range finish {
		if openai.BadFinish(f) {
			return false
		}
	}
	return true
}

// RawUsage returns a canonical answer's usage object as raw JSON (the
// last one of a stream), or nil when it has none. The result may alias
// the entry's members (it is capped: an append copies).
func (e *Entry) RawUsage() []byte {
	if e.Response != nil {
		if u := gjson.GetBytes(e.Response, "usage"); u.IsObject() {
			return []byte(u.Raw)
		}
		return nil
	}
	// From the end: the usage chunk is the last (or next to last) one, so
	// one or two chunks are read, not all. Each is read through a view
	// (gjson.GetBytes copies what it finds).
	for i := len(e.Chunks) - 1; i >= 0; i-- {
		if u := view(e.Chunks[i]).Get("usage"); u.IsObject() {
			return part(e.Chunks[i], u.Raw)
		}
	}
	return nil
}

// RawChunks returns a canonical answer as encoded chat.completion.chunk
// objects: the stored Chunks themselves (not copied), or a stored
// Response split into chunks (one with each choice's whole message, one
// with its finish reason, and a usage chunk) and encoded. The error is
// the stored response's decoding error.
func (e *Entry) RawChunks() ([]json.RawMessage, error) {
	if e.Response == nil {
		return e.Chunks, nil
	}
	r, err := e.DecodeResponse()
	if err != nil {
		return nil, err
	}
	conv, err := EntryOf(nil, splitResponse(r))
	if err != nil {
		return nil, err
	}
	return conv.Chunks, nil
}

// DecodeChunks returns a canonical answer as typed chunks: the stored
// Chunks decoded, or a stored Response split as RawChunks splits it. The
// error is a decoding error.
func (e *Entry) DecodeChunks() ([]*openai.ChatChunk, error) {
	if e.Response != nil {
		r, err := e.DecodeResponse()
		if err != nil {
			return nil, err
		}
		return splitResponse(r), nil
	}
	out := make([]*openai.ChatChunk, len(e.Chunks))
	for i, raw := range e.Chunks {
		c, err := openai.DecodeChunk(raw)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// DecodeResponse returns a canonical answer as a typed response: the
// stored Response decoded, or the stored Chunks decoded and joined the
// way the OpenAI SDKs' accumulators join a stream. The error is a
// decoding error.
func (e *Entry) DecodeResponse() (*openai.ChatResponse, error) {
	if e.Response != nil {
		r := new(openai.ChatResponse)
		return r, json.Unmarshal(e.Response, r)
	}
	chunks, err := e.DecodeChunks()
	if err != nil {
		return nil, err
	}
	return accumulate(chunks), nil
}
