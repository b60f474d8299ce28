package codec

import (
	"strconv"
	"unsafe"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// JoinedResponse returns the chat.completion body a stored stream's
// Chunks join into, byte for byte what openai.Marshal writes of
// DecodeResponse's response, read from the raw chunks in one pass each
// with no typed decoding: a non-streamed hit of a stored stream then
// costs about what a streamed hit does. ok is false for an entry that is
// not a stored stream, and for a chunk of a shape it does not read (a
// member name that is not lower-case ASCII, a known member given twice
// or of an unusual type, …): the caller then takes DecodeResponse, which
// is right for every entry. FuzzJoinedResponse holds the two equal.
//
// The chunks must be valid JSON, as Decode (which checks the whole
// value) and EntryOf make them: they are not checked again here.
func (e *Entry) JoinedResponse() (body []byte, ok bool) {
	if e.Format != "" || e.Response != nil || len(e.Chunks) == 0 {
		return nil, false
	}
	j := joiner{textCap: 16 * len(e.Chunks)}
	for _, ch := range e.Chunks {
		if !j.chunk(view(ch)) {
			return nil, false
		}
	}
	return j.encode()
}

// Joined returns the entry as if the body JoinedResponse joins had been
// stored instead of the chunks (Response set, Chunks nil; the rest as in
// e), for a replay that answers a stored body as it is; ok as
// JoinedResponse reports it.
func (e *Entry) Joined() (*Entry, bool) {
	body, ok := e.JoinedResponse()
	if !ok {
		return nil, false
	}
	j := *e
	j.Chunks, j.Response = nil, body
	return &j, true
}

// view is a read-only view of b (a chunk of the entry, which nothing
// modifies while the joiner reads it).
func view(b []byte) gjson.Result {
	if len(b) == 0 {
		return gjson.Result{}
	}
	return gjson.Parse(unsafe.String(unsafe.SliceData(b), len(b)))
}

// joiner gathers a stream's chunks as accumulate does, from raw members.
type joiner struct {
	haveID        bool // a chunk with a non-empty id gave the head
	id, model, fp string
	created       int64
	extra         members // the head's unknown members
	usage         string  // the last usage object, raw
	choices       []*joinChoice
	textCap       int // the room a choice's first text gets
}

// joinChoice gathers one choice's deltas (choiceAcc's raw twin).
type joinChoice struct {
	index                       int
	role, finish                string
	content, reasoning, refusal []byte
	extra                       members
	calls                       []joinCall
	logprobs                    logprobsAcc
}

// joinCall is one tool call of a choice, as addToolCalls builds it.
type joinCall struct {
	index         int
	id, typ, name string
	args          []byte
	extra         members
}

// members are the unknown members of an object, raw: a later value of a
// name replaces the earlier one, as in the typed Extra maps.
type members []member

type member struct{ key, raw string }

func (m *members) set(k, raw string) {
	for i := range *m {
		if (*m)[i].key == k {
			(*m)[i].raw = raw
			return
		}
	}
	*m = append(*m, member{k, raw})
}

// plainName reports whether the member name raw (quotes included) is
// lower-case ASCII letters, digits and underscores: it then decodes to
// itself, and folds onto no known name it is not (encoding/json binds
// names case-insensitively).
func plainName(raw string) bool {
	if len(raw) < 3 {
		return false
	}
	for _, c := range []byte(raw[1 : len(raw)-1]) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// once marks bit i of *seen and reports whether it was clear: a known
// member given twice is left to encoding/json (DecodeResponse).
func once(seen *uint16, i uint) bool {
	if *seen&(1<<i) != 0 {
		return false
	}
	*seen |= 1 << i
	return true
}

// str reads a string member as encoding/json does into a string field:
// null leaves *dst as it is.
func str(v gjson.Result, dst *string) bool {
	if v.Type == gjson.Null {
		return true
	}
	s, ok := unquote(v)
	*dst = s
	return ok
}

// unquote is a JSON string's text as encoding/json decodes it.
func unquote(v gjson.Result) (string, bool) {
	if v.Type != gjson.String {
		return "", false
	}
	return openai.Unquote(v.Raw)
}

// integer reads a plain integer (encoding/json's int field; null leaves
// *dst as it is).
func integer(v gjson.Result, dst *int64) bool {
	if v.Type == gjson.Null {
		return true
	}
	if v.Type != gjson.Number {
		return false
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	*dst = n
	return err == nil
}

// text appends a string delta (null: nothing) to *dst.
func text(v gjson.Result, dst *[]byte) bool {
	if v.Type == gjson.Null {
		return true
	}
	s, ok := unquote(v)
	*dst = append(*dst, s...)
	return ok
}

// chunk reads one chunk's top level (ChatChunk).
func (j *joiner) chunk(root gjson.Result) bool {
	if !root.IsObject() {
		return false
	}
	var seen uint16
	var id, model, fp string
	var created int64
	var usage string
	head := !j.haveID // takeHead: every chunk's head until one has an id
	ok := true
	root.ForEach(func(k, v gjson.Result) bool {
		switch {
		case !plainName(k.Raw):
			ok = false
		case k.Str == "id":
			ok = once(&seen, 0) && str(v, &id)
		case k.Str == "object":
			var s string
			ok = once(&seen, 1) && str(v, &s)
		case k.Str == "created":
			ok = once(&seen, 2) && integer(v, &created)
		case k.Str == "model":
			ok = once(&seen, 3) && str(v, &model)
		case k.Str == "system_fingerprint":
			ok = once(&seen, 4) && str(v, &fp)
		case k.Str == "choices":
			ok = once(&seen, 5) && j.chunkChoices(v)
		case k.Str == "usage":
			ok = once(&seen, 6) && (v.Type == gjson.Null || v.IsObject())
			if v.IsObject() {
				usage = v.Raw
			}
		case head && k.Str != "obfuscation": // each chunk's own padding: never the response's
			j.extra.set(k.Str, v.Raw)
		}
		return ok
	})
	if !ok {
		return false
	}
	if head {
		j.id, j.created, j.model, j.fp, j.haveID = id, created, model, fp, id != ""
	}
	if usage != "" {
		j.usage = usage
	}
	return true
}

// chunkChoices reads a chunk's choices (ChunkChoice).
func (j *joiner) chunkChoices(v gjson.Result) bool {
	if v.Type == gjson.Null {
		return true
	}
	if !v.IsArray() {
		return false
	}
	ok := true
	v.ForEach(func(_, cv gjson.Result) bool {
		ok = j.chunkChoice(cv)
		return ok
	})
	return ok
}

func (j *joiner) chunkChoice(cv gjson.Result) bool {
	if !cv.IsObject() {
		return false
	}
	var seen uint16
	var index int64
	var delta, logprobs gjson.Result
	var finish *string
	ok := true
	cv.ForEach(func(k, v gjson.Result) bool {
		switch {
		case !plainName(k.Raw):
			ok = false
		case k.Str == "index":
			ok = once(&seen, 0) && integer(v, &index)
		case k.Str == "delta":
			// A null delta is left to DecodeResponse: it decodes to a
			// message with an unknown member "" (a bug of its own).
			ok = once(&seen, 1) && v.IsObject()
			delta = v
		case k.Str == "finish_reason":
			ok = once(&seen, 2)
			if ok && v.Type != gjson.Null {
				s, good := unquote(v)
				finish, ok = &s, good
			}
		case k.Str == "logprobs":
			ok = once(&seen, 3)
			logprobs = v
		}
		return ok // other members: the choice's Extra, which no response keeps
	})
	if !ok || index != int64(int(index)) {
		return false
	}
	a := j.choice(int(index))
	if delta.IsObject() && !a.delta(delta) {
		return false
	}
	if finish != nil {
		a.finish = *finish
	}
	a.logprobs.add(logprobs)
	return true
}

// choice is the choice at index i, added on its first delta.
func (j *joiner) choice(i int) *joinChoice {
	for _, c := range j.choices {
		if c.index == i {
			return c
		}
	}
	c := &joinChoice{index: i, content: make([]byte, 0, j.textCap)}
	j.choices = append(j.choices, c)
	return c
}

// delta gathers one delta (Delta) into the choice.
func (a *joinChoice) delta(d gjson.Result) bool {
	var seen uint16
	ok := true
	d.ForEach(func(k, v gjson.Result) bool {
		switch {
		case !plainName(k.Raw):
			ok = false
		case k.Str == "role":
			var role string
			ok = once(&seen, 0) && str(v, &role)
			if role != "" {
				a.role = role
			}
		case k.Str == "content":
			ok = once(&seen, 1) && text(v, &a.content)
		case k.Str == "reasoning_content":
			ok = once(&seen, 2) && text(v, &a.reasoning)
		case k.Str == "refusal":
			ok = once(&seen, 3) && text(v, &a.refusal)
		case k.Str == "tool_calls":
			ok = once(&seen, 4) && a.toolCalls(v)
		case k.Str == "obfuscation":
		default:
			a.extra.set(k.Str, v.Raw)
		}
		return ok
	})
	return ok
}

// toolCalls merges a delta's tool calls into the choice's, as
// addToolCalls merges typed ones.
func (a *joinChoice) toolCalls(v gjson.Result) bool {
	if v.Type == gjson.Null {
		return true
	}
	if !v.IsArray() {
		return false
	}
	ok := true
	v.ForEach(func(_, tv gjson.Result) bool {
		ok = a.toolCall(tv)
		return ok
	})
	return ok
}

// toolCall merges one tool-call delta (ToolCall) into the choice's calls.
func (a *joinChoice) toolCall(tv gjson.Result) bool {
	if !tv.IsObject() {
		return false
	}
	var seen uint16
	var d joinCall
	var index int64
	hasIndex, ok := false, true
	tv.ForEach(func(k, v gjson.Result) bool {
		switch {
		case !plainName(k.Raw):
			ok = false
		case k.Str == "index":
			hasIndex = v.Type != gjson.Null
			ok = once(&seen, 0) && integer(v, &index) && index == int64(int(index))
		case k.Str == "id":
			ok = once(&seen, 1) && str(v, &d.id)
		case k.Str == "type":
			ok = once(&seen, 2) && str(v, &d.typ)
		case k.Str == "function":
			ok = once(&seen, 3) && d.function(v)
		default:
			d.extra.set(k.Str, v.Raw)
		}
		return ok
	})
	if ok {
		a.merge(d, int(index), hasIndex)
	}
	return ok
}

// merge adds the tool-call delta d (with its index, if it has one) as
// addToolCalls does: a new index, or no index but an id, starts a call;
// the others extend the call they name, or the last one.
func (a *joinChoice) merge(d joinCall, index int, hasIndex bool) {
	at := -1
	if hasIndex {
		for i := range a.calls {
			if a.calls[i].index == index {
				at = i
			}
		}
	} else if d.id == "" && len(a.calls) > 0 {
		at = len(a.calls) - 1
	}
	if at < 0 {
		d.index = len(a.calls)
		if hasIndex {
			d.index = index
		}
		if d.typ == "" {
			d.typ = "function"
		}
		a.calls = append(a.calls, d)
		return
	}
	c := &a.calls[at]
	if d.id != "" {
		c.id = d.id
	}
	if d.name != "" {
		c.name = d.name
	}
	c.args = append(c.args, d.args...)
	for _, m := range d.extra {
		c.extra.set(m.key, m.raw)
	}
}

// function reads a tool call's function (FunctionCall: no unknown
// members kept).
func (d *joinCall) function(v gjson.Result) bool {
	if v.Type == gjson.Null {
		return true
	}
	if !v.IsObject() {
		return false
	}
	var seen uint16
	ok := true
	v.ForEach(func(k, m gjson.Result) bool {
		switch {
		case !plainName(k.Raw):
			ok = false
		case k.Str == "name":
			ok = once(&seen, 0) && str(m, &d.name)
		case k.Str == "arguments":
			var s string
			ok = once(&seen, 1) && str(m, &s)
			d.args = append(d.args, s...)
		}
		return ok
	})
	return ok
}
