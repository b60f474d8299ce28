// Package sse is the module's only Server-Sent Events reader and writer.
//
// The Reader follows the WHATWG event-stream parsing rules that matter to
// LLM APIs: lines end in LF, CRLF or CR; "data:" lines of one event are joined
// with "\n"; one space after the colon is removed; lines starting with ":" are
// comments; a blank line dispatches the event. It has no per-line limit other
// than MaxEventSize, so long tool-call arguments and base64 images pass.
//
// The Writer emits "data: ...\n\n" frames (splitting payloads that contain
// newlines into several data lines, so what a Reader reads back is exactly
// what was written) and comment frames.
package sse

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// DefaultMaxEventSize bounds one event's data (32 MiB, the same line limit
// the official openai-go SDK uses).
const DefaultMaxEventSize = 32 << 20

// maxLinePrefix is the room a line gets beyond the data limit for its field
// name ("data: ").
const maxLinePrefix = 64

// ErrEventTooLarge is returned by Reader.Next when an event's data, or any
// single line, exceeds the reader's maximum size.
var ErrEventTooLarge = errors.New("sse: event too large")

// Done is the payload OpenAI-style streams use to mark their normal end.
var Done = []byte("[DONE]")

// Event is one dispatched server-sent event.
type Event struct {
	// Name is the "event:" field, empty for the default "message" type.
	Name string
	// Data is the joined "data:" lines. It aliases the Reader's data
	// buffer (never its read buffer, which Release gives away) and is
	// valid only until the next call to Next; copy it to keep it.
	Data []byte
}

// Reader reads events from an event stream. It is not safe for concurrent use.
type Reader struct {
	src     io.Reader
	buf     []byte
	r, w    int   // unread bytes are buf[r:w]
	err     error // sticky error from src
	max     int
	data    []byte
	name    []byte
	hasData bool
	skipLF  bool // the previous line ended in CR: a following LF belongs to it
	burst   bool // the last read filled the buffer: the source had more ready
	// names are the event names read lately, reused rather than
	// allocated again: a stream repeats a handful of names.
	names [4]string
	next  int // the entry of names the next new name replaces
}

// burstSize is what the buffer grows to once a read fills it: a relay
// flushes its client before each read of the upstream (where it may
// wait), so the events of one burst read 1 KiB at a time went out in one
// write each; 4 KiB is what net/http's transport buffers of a response,
// so one read now takes whatever it holds. A stream whose events come one
// at a time keeps its 1 KiB.
const burstSize = 4 << 10

// NewReader returns a Reader over r with DefaultMaxEventSize.
func NewReader(r io.Reader) *Reader {
	return NewReaderSize(r, 0)
}

// NewReaderSize returns a Reader over r whose events may hold at most max
// bytes of data; max <= 0 means DefaultMaxEventSize.
func NewReaderSize(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxEventSize
	}
	// 1 KiB holds a typical chunk; the buffer doubles for larger events.
	return &Reader{src: r, buf: smallBufs.Get().(*[smallSize]byte)[:], max: max}
}

// smallSize is a new Reader's buffer.
const smallSize = 1 << 10

// smallBufs and burstBufs hold the buffers of released Readers (Release),
// and the small ones a Reader outgrew: a relay's reader is one a stream,
// and its buffers were most of what a stream allocated.
var (
	smallBufs = sync.Pool{New: func() any { return new([smallSize]byte) }}
	burstBufs = sync.Pool{New: func() any { return new([burstSize]byte) }}
)

// Release gives r's read buffer back for another Reader; r may not be
// used after. The events it returned keep their data (Event.Data is never
// the read buffer).
func (r *Reader) Release() {
	putBuf(r.buf)
	r.buf, r.data, r.src = nil, nil, nil
	r.r, r.w, r.err = 0, 0, errReleased
}

// errReleased is what Next returns after Release.
var errReleased = errors.New("sse: read of a released Reader")

// putBuf keeps b for a later Reader when it is one of the two sizes they
// take; nothing may use b after.
func putBuf(b []byte) {
	switch len(b) {
	case smallSize:
		smallBufs.Put((*[smallSize]byte)(b))
	case burstSize:
		burstBufs.Put((*[burstSize]byte)(b))
	}
}

// Next returns the next event that carries data. Events without any "data:"
// line (comments, keep-alives, bare "event:" lines) are skipped. At the end
// of the input an event that was not closed by a blank line is still
// returned, then io.EOF. Any read error other than io.EOF is returned as is.
func (r *Reader) Next() (Event, error) {
	r.data = r.data[:0]
	r.name = r.name[:0]
	r.hasData = false
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF && r.hasData {
				return r.event(), nil
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if r.hasData {
				return r.event(), nil
			}
			r.name = r.name[:0]
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if r.hasData {
				r.data = append(r.data, '\n')
			}
			if len(r.data)+len(value) > r.max {
				return Event{}, ErrEventTooLarge
			}
			r.data = append(r.data, value...)
			r.hasData = true
		case "event":
			r.name = append(r.name[:0], value...)
		}
		// id, retry and unknown fields carry nothing an LLM relay needs.
	}
}

func (r *Reader) event() Event {
	ev := Event{Data: r.data}
	if len(r.name) > 0 {
		ev.Name = r.intern(r.name)
	}
	return ev
}

// intern returns name as a string, one of r.names when it is there.
func (r *Reader) intern(name []byte) string {
	for _, s := range r.names {
		if s == string(name) {
			return s
		}
	}
	s := string(name)
	r.names[r.next] = s
	r.next = (r.next + 1) % len(r.names)
	return s
}

// readLine returns the next line without its terminator (LF, CRLF or CR).
// The slice aliases r.buf and is valid until the next call.
func (r *Reader) readLine() ([]byte, error) {
	scanned := 0 // bytes of buf[r.r:r.w] already searched for a terminator
	for {
		if r.skipLF && r.r < r.w {
			r.skipLF = false
			if r.buf[r.r] == '\n' {
				r.r++
			}
		}
		if !r.skipLF {
			if i := lineEnd(r.buf[r.r+scanned : r.w]); i >= 0 {
				end := r.r + scanned + i
				line := r.buf[r.r:end]
				next := end + 1
				if r.buf[end] == '\r' {
					if next < r.w {
						if r.buf[next] == '\n' {
							next++
						}
					} else {
						r.skipLF = true
					}
				}
				r.r = next
				if len(line) > r.max+maxLinePrefix {
					return nil, ErrEventTooLarge
				}
				return line, nil
			}
			scanned = r.w - r.r
		}
		if r.err != nil {
			r.skipLF = false
			if r.r < r.w {
				line := r.buf[r.r:r.w]
				r.r = r.w
				if len(line) > r.max+maxLinePrefix {
					return nil, ErrEventTooLarge
				}
				return line, nil
			}
			return nil, r.err
		}
		if r.w-r.r > r.max+maxLinePrefix {
			return nil, ErrEventTooLarge
		}
		r.fill()
	}
}

// lineEnd returns the index of the first CR or LF in b, or -1.
func lineEnd(b []byte) int {
	n := bytes.IndexByte(b, '\n')
	limit := n
	if n < 0 {
		limit = len(b)
	}
	if c := bytes.IndexByte(b[:limit], '\r'); c >= 0 {
		return c
	}
	return n
}

// fill reads more input, first moving unread bytes to the front and growing
// the buffer when it is full.
func (r *Reader) fill() {
	if r.r > 0 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	if r.w == len(r.buf) {
		r.buf = append(r.buf, make([]byte, len(r.buf))...)
	} else if r.burst && len(r.buf) < burstSize {
		// No line or event refers to the buffer between calls (Next's
		// event data is r.data): the small one goes back at once.
		b := burstBufs.Get().(*[burstSize]byte)[:]
		r.w = copy(b, r.buf[:r.w])
		putBuf(r.buf)
		r.buf = b
	}
	free := len(r.buf) - r.w
	n, err := r.src.Read(r.buf[r.w:])
	r.burst = n == free
	r.w += n
	if err != nil {
		r.err = err
	}
}
