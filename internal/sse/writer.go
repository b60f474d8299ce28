package sse

import (
	"bytes"
	"io"
)

var (
	eventPrefix = []byte("event: ")
	dataPrefix  = []byte("data: ")
	frameEnd    = []byte("\n\n")
	doneFrame   = []byte("data: [DONE]\n\n")
)

// AppendData appends one "data:" event carrying payload to dst and returns
// the extended slice. A payload containing line breaks is split into several
// data lines, so a Reader reads back exactly payload (with CR and CRLF
// normalised to LF).
func AppendData(dst, payload []byte) []byte {
	for {
		i := lineEnd(payload)
		if i < 0 {
			break
		}
		dst = append(dst, dataPrefix...)
		dst = append(dst, payload[:i]...)
		dst = append(dst, '\n')
		next := i + 1
		if payload[i] == '\r' && next < len(payload) && payload[next] == '\n' {
			next++
		}
		payload = payload[next:]
	}
	dst = append(dst, dataPrefix...)
	dst = append(dst, payload...)
	return append(dst, frameEnd...)
}

// WriteData writes one "data:" event carrying payload to w in a single Write
// call when the payload has no line breaks (the common case).
func WriteData(w io.Writer, payload []byte) error {
	if bytes.IndexByte(payload, '\n') < 0 && bytes.IndexByte(payload, '\r') < 0 {
		// Three small writes into a buffered ResponseWriter beat building a
		// frame: no allocation, no copy of a possibly large payload.
		if _, err := w.Write(dataPrefix); err != nil {
			return err
		}
		if _, err := w.Write(payload); err != nil {
			return err
		}
		_, err := w.Write(frameEnd)
		return err
	}
	_, err := w.Write(AppendData(nil, payload))
	return err
}

// WriteEvent writes one event named name (an "event:" line, which
// Anthropic's and the Responses API's streams carry) with payload as its
// data. An empty name writes a plain data event (WriteData). name must not
// contain line breaks.
func WriteEvent(w io.Writer, name string, payload []byte) error {
	if name != "" {
		if _, err := w.Write(eventPrefix); err != nil {
			return err
		}
		if _, err := io.WriteString(w, name); err != nil {
			return err
		}
		if _, err := w.Write(frameEnd[:1]); err != nil {
			return err
		}
	}
	return WriteData(w, payload)
}

// WriteDone writes the "data: [DONE]" event that ends an OpenAI-style stream.
func WriteDone(w io.Writer) error {
	_, err := w.Write(doneFrame)
	return err
}

// WriteComment writes a comment frame (": text\n\n"), which clients ignore;
// it keeps idle connections open. text must not contain line breaks.
func WriteComment(w io.Writer, text string) error {
	_, err := io.WriteString(w, ": "+text+"\n\n")
	return err
}
