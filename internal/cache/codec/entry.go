package codec

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Entry is one cached answer. A canonical entry holds exactly one of
// Response (the chat.completion body of a non-streamed request) or
// Chunks (the chunks of a streamed one, the usage chunk included),
// whichever mode made it, as raw JSON in the Chat Completions wire; a
// chat client's hit is replayed from these bytes with no decoding, other
// formats and a hit in the other mode convert them (DecodeResponse,
// DecodeChunks, RawChunks). A native entry (Format set) holds exactly one
// of Native or Events instead.
//
// An Entry is not safe for concurrent use. The raw members of a decoded
// Entry alias the value it was decoded from (see Decode).
type Entry struct {
	// Version is the codec's version: 1, or 2 for a stream stored with
	// chunks cut short (AppendShortTail); Encode and AppendTail set it,
	// and Decode refuses any other.
	Version int `json:"v"`
	// Stored is when the answer was stored, in Unix milliseconds.
	Stored int64 `json:"stored"`
	// Provider and UpstreamModel name who made the answer.
	Provider      string `json:"provider,omitempty"`
	UpstreamModel string `json:"upstream_model,omitempty"`
	// Response is a non-streamed answer: a chat.completion object.
	Response json.RawMessage `json:"response,omitempty"`
	// Chunks is a streamed answer: its chat.completion.chunk objects, in
	// order.
	Chunks []json.RawMessage `json:"chunks,omitempty"`

	// Format names the client format whose own wire Native or Events
	// hold: an answer with no canonical form here (OpenAI's Responses API
	// passed through), kept as it came and replayed only to that format.
	Format string `json:"format,omitempty"`
	// Native is a native answer's response body (an object).
	Native json.RawMessage `json:"native,omitempty"`
	// Events is a native answer's stream, event by event; the last
	// event's Data is never nil in a decoded entry.
	Events []Event `json:"events,omitempty"`
}

// Event is one stream event of a native entry (Entry.Events), encoded as
// the pair [name, data].
type Event struct {
	// Name is the event's name (its "event:" line), or "".
	Name string
	// Data is the event's data: one JSON value.
	Data json.RawMessage
}

// version is the Entry.Version of an entry with its chunks whole (or no
// chunks); shortVersion, 2, is that of a stream stored with chunks cut
// short (AppendShortTail), whose members "head" and "short" a version 1
// decoder would ignore: a replica still on version 1 refuses such an
// entry (a miss) instead of serving its short chunks, and reads every
// other entry as before.
const (
	version      = 1
	shortVersion = 2
)

// Encode returns the entry's encoded value and sets e.Version. It writes
// the JSON by hand: the raw members are copied as they are, which costs a
// fraction of encoding/json's compacting; a raw member that is not JSON
// makes the value fail to decode, which a cache treats as a miss. Of the
// answer members, the first set of Native, Events, Response (in that
// order) is written, else Chunks. The error is always nil today; it is
// there for a future codec that can fail.
func (e *Entry) Encode() ([]byte, error) {
	n := 128 + len(e.Provider) + len(e.UpstreamModel) + len(e.Response)
	for _, ch := range e.Chunks {
		n += len(ch) + 1
	}
	for _, ev := range e.Events {
		n += len(ev.Name) + len(ev.Data) + 8
	}
	n += len(e.Native)
	out := make([]byte, 0, n)
	switch {
	case e.Native != nil:
		out = append(out, `{"native":`...)
		out = append(out, e.Native...)
	case e.Events != nil:
		out = append(out, `{"events":[`...)
		for i, ev := range e.Events {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, '[')
			out = appendString(out, ev.Name)
			out = append(out, ',')
			out = append(out, ev.Data...)
			out = append(out, ']')
		}
		out = append(out, ']')
	case e.Response != nil:
		out = append(out, `{"response":`...)
		out = append(out, e.Response...)
	default:
		out = append(out, `{"chunks":[`...)
		for i, ch := range e.Chunks {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, ch...)
		}
		out = append(out, ']')
	}
	return e.AppendTail(out), nil
}

// TailSize bounds the length of what AppendTail appends for e, so a
// caller can size the value's buffer once.
func (e *Entry) TailSize() int {
	return 96 + 6*(len(e.Provider)+len(e.UpstreamModel)) // \u00XX at worst
}

// AppendTail ends an encoded entry whose answer member out already holds
// (`{"response":…` or `{"chunks":[…]`, written as Encode writes them): it
// appends the other members (version, stored, provider, upstream model,
// format) and the closing brace, sets e.Version and returns the extended
// buffer. The members' order is free (Decode looks them up by name), so a
// recorder can write the answer first, as it arrives, and this last.
func (e *Entry) AppendTail(out []byte) []byte {
	return e.appendTail(out, version)
}

// appendTail is AppendTail writing version v.
func (e *Entry) appendTail(out []byte, v int) []byte {
	e.Version = v
	out = append(out, `,"v":`...)
	out = strconv.AppendInt(out, int64(e.Version), 10)
	out = append(out, `,"stored":`...)
	out = strconv.AppendInt(out, e.Stored, 10)
	out = append(out, `,"provider":`...)
	out = appendString(out, e.Provider)
	out = append(out, `,"upstream_model":`...)
	out = appendString(out, e.UpstreamModel)
	if e.Format != "" {
		out = append(out, `,"format":`...)
		out = appendString(out, e.Format)
	}
	return append(out, '}')
}

// Decode reads an encoded entry without copying: its raw members alias
// v, which the caller must not modify while the entry is in use. It
// refuses (with an error, never a panic) any value that is not JSON, of
// another version, or that does not hold exactly one answer member of
// the kind its Format says (canonical without, native with).
func Decode(v []byte) (*Entry, error) {
	if !gjson.ValidBytes(v) {
		return nil, errors.New("cache entry is not JSON")
	}
	// One pass over the top level of a read-only view of v: every raw
	// member is a part of v, taken without a copy. A name given twice
	// counts once, the first time (as gjson's Get reads it).
	e := &Entry{}
	var seen uint16
	var head, short gjson.Result // AppendShortTail's members
	view(v).ForEach(func(k, m gjson.Result) bool {
		i := slices.Index(entryMembers[:], k.Str)
		switch {
		case i < 0 || !once(&seen, uint(i)):
		case i == 9:
			head = m
		case i == 10:
			short = m
		default:
			e.member(i, m, v)
		}
		return true
	})
	answers := 0
	for _, has := range []bool{e.Response != nil, len(e.Chunks) > 0, e.Native != nil, len(e.Events) > 0} {
		if has {
			answers++
		}
	}
	native := e.Native != nil || len(e.Events) > 0
	cut := seen&(1<<9|1<<10) != 0
	if !(e.Version == version && !cut || e.Version == shortVersion && cut) || answers != 1 || native != (e.Format != "") || len(e.Events) > 0 && e.Events[len(e.Events)-1].Data == nil {
		return nil, errors.New("not a cache entry of this version")
	}
	if cut && !e.unshorten(head, short, len(v)) {
		return nil, errors.New("cache entry's short chunks do not fit its head")
	}
	return e, nil
}

// entryMembers are the names of an encoded entry's members, in the order
// Entry.member knows them.
var entryMembers = [...]string{"v", "stored", "provider", "upstream_model", "response", "chunks", "format", "native", "events", "head", "short"}

// member sets the member entryMembers[i] of e from m, a part of v.
func (e *Entry) member(i int, m gjson.Result, v []byte) {
	raw := func(r gjson.Result) []byte { return part(v, r.Raw) }
	switch i {
	case 0:
		e.Version = int(m.Int())
	case 1:
		e.Stored = m.Int()
	case 2:
		e.Provider = m.Str
	case 3:
		e.UpstreamModel = m.Str
	case 4:
		if m.IsObject() {
			e.Response = raw(m)
		}
	case 5:
		m.ForEach(func(_, ch gjson.Result) bool {
			e.Chunks = append(e.Chunks, raw(ch))
			return true
		})
	case 6:
		e.Format = m.Str
	case 7:
		if m.IsObject() {
			e.Native = raw(m)
		}
	case 8:
		m.ForEach(func(_, pair gjson.Result) bool {
			var ev Event
			i := 0
			pair.ForEach(func(_, m gjson.Result) bool {
				switch i {
				case 0:
					ev.Name = m.Str
				case 1:
					ev.Data = raw(m)
				}
				i++
				return true
			})
			e.Events = append(e.Events, ev)
			return i == 2 && ev.Data != nil
		})
	}
}

// part returns raw, a part of v's memory read through a view of v, as
// that part of v (capped: an append copies), or as a copy if it is not in
// v.
func part(v []byte, raw string) []byte {
	if len(raw) == 0 || len(v) == 0 {
		return []byte(raw)
	}
	off := uintptr(unsafe.Pointer(unsafe.StringData(raw))) - uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	if off <= uintptr(len(v)) && uintptr(len(raw)) <= uintptr(len(v))-off {
		return v[off : off+uintptr(len(raw)) : off+uintptr(len(raw))]
	}
	return []byte(raw)
}
