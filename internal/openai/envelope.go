package openai

import (
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// ChatEnvelope is what the handler reads of a Chat Completions request
// before admission. Model is a read-only view of the body (the caller
// clones it to keep it longer); whatever could be read is kept even when
// the body is refused, for the record.
type ChatEnvelope struct {
	// Model is the "model" member when it is a string and the top level
	// has no refused name.
	Model string
	// Stream: "stream" is true.
	Stream bool
	// IncludeUsage: "stream_options.include_usage" is true (read only
	// when the top level is acceptable).
	IncludeUsage bool
	// N and Temperature are "n" and "temperature" when they are numbers
	// (the last of each, as a decoder takes them), for a cache that asks
	// whether the answer is deterministic without reading the body again;
	// HasN and HasTemperature say whether they were.
	N                    int64
	Temperature          float64
	HasN, HasTemperature bool
	// TextBytes is TextBytes of the body, counted as it was read (0 when
	// it could not be: not JSON, or more values than a tape holds): a
	// prompt-token estimate without reading the body again.
	TextBytes int
}

// ParseChat reads a Chat Completions request body once and checks it in
// full: the envelope's rules first (valid JSON, an object, "model" a
// non-empty string, "messages" a non-empty array, "stream" a boolean and
// "stream_options" an object when present, none of these four given
// twice, no top-level member that differs from a member of the API only
// in case), then ValidateChat's. It returns the first fault in that
// order, nil for an acceptable body; it allocates nothing for one.
func ParseChat(body []byte) (ChatEnvelope, *APIError) {
	var env ChatEnvelope
	t, ok, mf := scanTapeMembers(body, chatMembers)
	defer putTape(t)
	if !ok && t.tooManyValues() {
		return env, tooManyValuesError()
	} else if !ok {
		return env, notJSON()
	}
	env.TextBytes = t.text
	root := t.root()
	if !root.IsObject() {
		return env, notObject()
	}
	top := readChatTop(root)
	if top.dup == "" && top.variant == nil && top.model.Type() == gjson.String {
		env.Model = top.model.Str()
	}
	env.Stream = top.stream.Type() == gjson.True
	if top.n.Type() == gjson.Number {
		// As gjson reads an integer: its text exactly past 2^53, and
		// clamped rather than wrapped past 2^63.
		env.N, env.HasN = gjson.Result{Type: gjson.Number, Raw: top.n.Raw(), Num: top.n.Num()}.Int(), true
	}
	if top.temp.Type() == gjson.Number {
		env.Temperature, env.HasTemperature = top.temp.Num(), true
	}
	if bad := top.check(); bad != nil {
		return env, bad
	}
	env.IncludeUsage = top.opts.Get("include_usage").Type() == gjson.True
	return env, validateChat(t, body, mf)
}

func notJSON() *APIError {
	return &APIError{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: "invalid_json",
		Message: "We could not parse the JSON body of your request: it is not valid JSON."}
}

func notObject() *APIError {
	return &APIError{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: "invalid_request",
		Message: "The request body must be a JSON object."}
}

// chatTop is what ParseChat reads of a request's top level: the members
// it checks (the zero val when not given), and the first refused name,
// if any: one of them given twice (dup), or a member that differs from a
// member of the API only in case (variant).
type chatTop struct {
	model, messages, stream, opts val
	n, temp                       val // the last number of each: not checked here
	dup                           string
	variant                       *MemberFault
}

// readChatTop reads root's members up to the first refused name.
func readChatTop(root val) chatTop {
	var top chatTop
	var seen uint8
	t := root.t
	for j, end := root.members(); j < end; j = t.nextMember(j) {
		var bit uint8
		var dst *val
		switch name := t.name(j); name {
		case "model":
			bit, dst = 1, &top.model
		case "messages":
			bit, dst = 2, &top.messages
		case "stream":
			bit, dst = 4, &top.stream
		case "stream_options":
			bit, dst = 8, &top.opts
		case "n", "temperature": // the last number of each, as a gjson pass takes them
			switch v := t.val(j + 1); {
			case v.Type() != gjson.Number:
			case name == "n":
				top.n = v
			default:
				top.temp = v
			}
			continue
		default:
			// "Model" beside or instead of "model": a Go upstream would
			// read it as model, unseen by admission and validation.
			// (scanTapeMembers checks every object for names given
			// twice.)
			if mayFold(t.val(j)) {
				if top.variant = chatMembers.CheckName(name); top.variant != nil {
					return top
				}
			}
			continue
		}
		if seen&bit != 0 {
			top.dup = t.name(j)
			return top
		}
		seen, *dst = seen|bit, t.val(j+1)
	}
	return top
}

// mayFold reports whether the name k may differ only in case from a name
// of a set of ASCII lower-case names without being one: not when it is
// itself ASCII without escapes or upper-case letters.
func mayFold(k val) bool {
	if c := k.tok().class; c&nameRead != 0 { // scanName classed it
		return c&(nameUpper|nameWide) != 0
	}
	if k.tok().esc {
		return true
	}
	for _, c := range []byte(k.Raw()) {
		if 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// check is the error for the top level's first problem: a refused name,
// a missing or ill-typed member, or empty messages; nil when it has none.
func (top *chatTop) check() *APIError {
	bad := func(param, code, msg string) *APIError {
		return &APIError{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: code, Param: param, Message: msg}
	}
	switch {
	case top.variant != nil:
		return top.variant.APIError()
	case top.dup != "":
		return bad(top.dup, "invalid_request", "The member "+strconv.Quote(top.dup)+" is given more than once.")
	case !top.model.Exists():
		return bad("model", "missing_required_parameter", "You must provide a model parameter.")
	case top.model.Type() != gjson.String:
		return bad("model", "invalid_type", "model must be a string.")
	case top.model.Str() == "":
		return bad("model", "invalid_value", "model must not be empty.")
	case !top.messages.Exists():
		return bad("messages", "missing_required_parameter", "Missing required parameter: 'messages'.")
	case !top.messages.IsArray():
		return bad("messages", "invalid_type", "messages must be an array.")
	case top.messages.tok().next == top.messages.i: // the token after "[" is the next value's: empty
		return bad("messages", "invalid_value", "messages must contain at least one message.")
	case top.stream.Exists() && top.stream.Type() != gjson.True && top.stream.Type() != gjson.False && top.stream.Type() != gjson.Null:
		return bad("stream", "invalid_type", "stream must be a boolean.")
	case top.opts.Exists() && top.opts.Type() != gjson.Null && !top.opts.IsObject():
		return bad("stream_options", "invalid_type", "stream_options must be an object.")
	}
	return nil
}
