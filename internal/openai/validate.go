package openai

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// MaxModelLen is the longest model name a request may carry, in bytes.
// Longer names are refused before anything else looks at them: they are
// never a real model and would bloat every record and log line.
const MaxModelLen = 256

// ValidateChat checks a Chat Completions request body the way the OpenAI
// API does, byte-level and without decoding it, in one reading of the
// body (scanTape) and a walk of its tokens: the body is valid JSON
// (at most 10,000 levels deep, as encoding/json allows), a JSON object and
// valid UTF-8; "model" is a non-empty string of at most MaxModelLen bytes;
// "messages" is a non-empty array of messages of a known role whose content
// has the shape that role allows; and every other member the API documents
// has its documented type and range (null is accepted for every optional
// member, as the API does); and no member name is one an encoding/json
// decoder could read differently (CheckMembers: none given twice in any
// object, under case folding, and none at the top level that differs from
// a member the API documents only in case, nor in an object it checks one
// that differs from a member it checks only in case). Members it does not
// know are not looked at, whatever they hold, and neither are values of
// discriminators it does not know (a content part, tool or response
// format of a new "type"): never reject what may be valid tomorrow.
//
// It returns nil for an acceptable body, otherwise a 400
// invalid_request_error whose Param names the member at fault in OpenAI's
// notation ("messages[2].content", "tools[0].function.name"); Param is
// empty only when the body as a whole is not a JSON object. Safe for
// concurrent use; it allocates nothing for an acceptable body.
func ValidateChat(body []byte) *APIError {
	t, ok, mf := scanTapeMembers(body, chatMembers)
	defer putTape(t)
	if !ok && t.tooManyValues() {
		return tooManyValuesError()
	} else if !ok {
		return notJSON()
	}
	if !t.root().IsObject() {
		return notObject()
	}
	return validateChat(t, body, mf)
}

// validateChat is ValidateChat's check of a body read onto t, a JSON
// object, whose member names scanTapeMembers refused with mf (nil: none).
func validateChat(t *tape, body []byte, mf *MemberFault) *APIError {
	root := t.root()
	var f *fault
	if t.wide && !utf8.Valid(body) {
		f = badUTF8(root)
	} else if mf != nil {
		return mf.APIError()
	} else {
		f = chatObject(root)
	}
	return f.apiError()
}

// chatMembers are the top-level members of a Chat Completions request that
// the bridge knows (the API's documented members): one that differs from
// them only in case is refused.
var chatMembers = NewFieldSet("model", "messages", "stream", "stream_options", "max_tokens",
	"max_completion_tokens", "temperature", "top_p", "presence_penalty", "frequency_penalty", "n",
	"top_logprobs", "seed", "logprobs", "store", "parallel_tool_calls", "user", "service_tier",
	"reasoning_effort", "verbosity", "prompt_cache_key", "safety_identifier", "stop", "logit_bias",
	"metadata", "tools", "tool_choice", "functions", "function_call", "response_format", "modalities",
	"audio", "prediction", "web_search_options")

// ChatMembers returns the set of a Chat Completions request's top-level
// members, for CheckMembers and FieldSet.Variant.
func ChatMembers() *FieldSet { return chatMembers }

// ValidateChatRequest applies ValidateChat's rules to a typed request (the
// in-process API), by checking the JSON the request encodes to: one set of
// rules, whatever way a request arrives. It costs an encoding of the
// request, small beside the upstream call it guards. A request that does
// not encode (a RawMessage or Extra member that is not JSON) is refused
// the same way.
func ValidateChatRequest(r *ChatRequest) *APIError {
	body, err := Marshal(r)
	if err != nil {
		return &APIError{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: "invalid_request",
			Message: "The request cannot be encoded as JSON: a raw member is not valid JSON.", Err: err}
	}
	return ValidateChat(body)
}

// fault is a validation failure on its way up: param grows a prefix at
// every level it passes (content[1] → messages[2].content[1]) and msg
// holds ph where the full name goes, so nothing is formatted twice.
type fault struct {
	param string
	code  string
	msg   string
}

// ph marks where a fault's message names the parameter.
const ph = "\x00"

// in prefixes the fault's parameter with the member or index it was found
// under; a nil fault stays nil, so `return check(v).in("name")` reads well.
func (f *fault) in(prefix string) *fault {
	if f == nil {
		return nil
	}
	switch {
	case f.param == "":
		f.param = prefix
	case f.param[0] == '[':
		f.param = prefix + f.param
	default:
		f.param = prefix + "." + f.param
	}
	return f
}

// at prefixes the fault's parameter with an array index.
func (f *fault) at(i int) *fault {
	if f == nil {
		return nil
	}
	return f.in("[" + strconv.Itoa(i) + "]")
}

func (f *fault) apiError() *APIError {
	if f == nil {
		return nil
	}
	return &APIError{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: f.code, Param: f.param,
		Message: strings.ReplaceAll(f.msg, ph, f.param)}
}

// kind names v's JSON type in an error message.
func kind(v val) string {
	switch v.Type() {
	case gjson.String:
		return "a string"
	case gjson.Number:
		if isInteger(v.Raw()) {
			return "an integer"
		}
		return "a decimal"
	case gjson.True, gjson.False:
		return "a boolean"
	case gjson.Null:
		return "null"
	}
	if v.IsArray() {
		return "an array"
	}
	return "an object"
}

func typeFault(want string, v val) *fault {
	return &fault{code: "invalid_type", msg: "Invalid type for '" + ph + "': expected " + want + ", but got " + kind(v) + " instead."}
}

func missing(param string) *fault {
	return &fault{param: param, code: "missing_required_parameter", msg: "Missing required parameter: '" + ph + "'."}
}

func valueFault(format string, args ...string) *fault {
	msg := format
	for _, a := range args {
		msg = strings.Replace(msg, "%s", a, 1)
	}
	return &fault{code: "invalid_value", msg: msg}
}

// quote shows a client's string in a message, bounded.
func quote(s string) string { return strconv.Quote(bounded(s)) }

// bounded cuts s to at most 64 bytes (on a rune boundary) with a marker,
// so that a message never carries a client's megabytes back.
func bounded(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// chatObject checks every member of a request object it knows, and that
// model and messages are there.
func chatObject(root val) *fault {
	var model, messages bool
	t := root.t
	for j, end := root.members(); j < end; j = t.nextMember(j) {
		name := t.name(j)
		switch name {
		case "model":
			model = true
		case "messages":
			messages = true
		}
		if f := member(name, t.val(j+1)); f != nil {
			return f
		}
	}
	switch {
	case !model:
		return missing("model")
	case !messages:
		return missing("messages")
	}
	return nil
}

// member checks one top-level member of a request; members it does not
// know pass.
func member(name string, v val) *fault {
	if v.Type() == gjson.Null && name != "model" && name != "messages" {
		return nil // every optional member may be null
	}
	var f *fault
	switch name {
	case "model":
		f = modelName(v)
	case "messages":
		f = messages(v)
	case "temperature":
		f = decimal(v, 0, 2)
	case "top_p":
		f = decimal(v, 0, 1)
	case "presence_penalty", "frequency_penalty":
		f = decimal(v, -2, 2)
	case "n":
		f = integer(v, 1, 128)
	case "max_tokens", "max_completion_tokens":
		f = integer(v, 1, math.MaxInt64)
	case "top_logprobs":
		f = integer(v, 0, 20)
	case "seed":
		f = integer(v, math.MinInt64, math.MaxInt64)
	case "stream", "logprobs", "store", "parallel_tool_calls":
		f = boolean(v)
	case "user", "service_tier", "reasoning_effort", "verbosity", "prompt_cache_key", "safety_identifier":
		f = str(v)
	case "stop":
		f = stop(v)
	case "logit_bias":
		f = logitBias(v)
	case "metadata":
		f = metadata(v)
	case "stream_options":
		f = object(v, rule{"include_usage", boolean, false}, rule{"include_obfuscation", boolean, false})
	case "tools":
		f = array(v, tool)
	case "tool_choice":
		f = toolChoice(v)
	case "functions":
		f = array(v, function)
	case "function_call":
		f = functionCall(v)
	case "response_format":
		f = responseFormat(v)
	case "modalities":
		f = array(v, str)
	case "audio":
		f = audioOutput(v)
	case "prediction":
		f = prediction(v)
	case "web_search_options":
		f = object(v, rule{"search_context_size", str, false}, rule{"user_location", userLocation, false})
	default:
		return nil
	}
	return f.in(name)
}

func modelName(v val) *fault {
	switch {
	case v.Type() != gjson.String:
		return typeFault("a string", v)
	case v.Str() == "":
		return valueFault("Invalid '" + ph + "': empty string. Expected a model name.")
	case len(v.Str()) > MaxModelLen:
		return &fault{code: "string_above_max_length", msg: "Invalid '" + ph + "': string too long. Expected a string with maximum length " +
			strconv.Itoa(MaxModelLen) + ", but got a string with length " + strconv.Itoa(len(v.Str())) + " instead."}
	}
	return nil
}

func str(v val) *fault {
	if v.Type() != gjson.String {
		return typeFault("a string", v)
	}
	return nil
}

// nullableStr is str that also accepts null (members inside objects).
func nullableStr(v val) *fault {
	if v.Type() == gjson.Null {
		return nil
	}
	return str(v)
}

func boolean(v val) *fault {
	if v.Type() != gjson.True && v.Type() != gjson.False && v.Type() != gjson.Null {
		return typeFault("a boolean", v)
	}
	return nil
}

func decimal(v val, min, max float64) *fault {
	if v.Type() != gjson.Number {
		return typeFault("a decimal", v)
	}
	switch n := v.Num(); {
	case n < min:
		return &fault{code: "decimal_below_min_value", msg: "Invalid '" + ph + "': decimal below minimum value. Expected a value >= " +
			strconv.FormatFloat(min, 'g', -1, 64) + ", but got " + bounded(v.Raw()) + " instead."}
	case n > max:
		return &fault{code: "decimal_above_max_value", msg: "Invalid '" + ph + "': decimal above maximum value. Expected a value <= " +
			strconv.FormatFloat(max, 'g', -1, 64) + ", but got " + bounded(v.Raw()) + " instead."}
	}
	return nil
}

// isInteger reports whether a JSON number is written as an integer.
func isInteger(raw string) bool {
	return raw != "" && !strings.ContainsAny(raw, ".eE")
}

func integer(v val, min, max int64) *fault {
	if v.Type() != gjson.Number || !isInteger(v.Raw()) {
		return typeFault("an integer", v)
	}
	n, err := strconv.ParseInt(v.Raw(), 10, 64)
	switch {
	case err != nil && v.Raw()[0] == '-', err == nil && n < min:
		return &fault{code: "integer_below_min_value", msg: "Invalid '" + ph + "': integer below minimum value. Expected a value >= " +
			strconv.FormatInt(min, 10) + ", but got " + bounded(v.Raw()) + " instead."}
	case err != nil, n > max:
		return &fault{code: "integer_above_max_value", msg: "Invalid '" + ph + "': integer above maximum value. Expected a value <= " +
			strconv.FormatInt(max, 10) + ", but got " + bounded(v.Raw()) + " instead."}
	}
	return nil
}

// array checks that v is an array and each element passes elem.
func array(v val, elem func(val) *fault) *fault {
	if !v.IsArray() {
		return typeFault("an array", v)
	}
	t, i := v.t, 0
	for j, end := v.elems(); j < end; j = t.toks[j].next {
		if f := elem(t.val(j)); f != nil {
			return f.at(i)
		}
		i++
	}
	return nil
}

// rule is the check of one member of an object.
type rule struct {
	name  string
	check func(val) *fault
	// need: the member must be present and not null.
	need bool
}

// object checks that v is an object whose members named in rules pass
// their check when present and not null, and that the members rules need
// are there; other members pass. It reads v once.
func object(v val, rules ...rule) *fault {
	if !v.IsObject() {
		return typeFault("an object", v)
	}
	var found uint64
	t := v.t
	for j, end := v.members(); j < end; j = t.nextMember(j) {
		name, m := t.name(j), j+1
		i := 0
		for i < len(rules) && rules[i].name != name {
			i++
		}
		var f *fault
		switch {
		case i == len(rules):
			f = caseVariant(name, rules)
		case t.toks[m].kind != 'n':
			found |= 1 << i
			f = rules[i].check(t.val(m)).in(name)
		}
		if f != nil {
			return f
		}
	}
	for i, r := range rules {
		if r.need && found&(1<<i) == 0 {
			return missing(r.name)
		}
	}
	return nil
}

// caseVariant refuses a member that the rules do not name but that equals
// one of their names under case folding: an upstream decoding with
// encoding/json would read it as that member, which was never checked.
func caseVariant(name string, rules []rule) *fault {
	for _, r := range rules {
		if strings.EqualFold(r.name, name) {
			return variantFault(name, r.name)
		}
	}
	return nil
}

func variantFault(name, known string) *fault {
	return (&fault{code: "invalid_request", msg: caseFault(name, known).Message()}).in(memberName(name))
}

// messageMembers are the members message checks, for caseVariant.
var messageMembers = []string{"role", "content", "tool_calls", "tool_call_id", "name", "function_call", "audio", "refusal"}

// discriminator returns the string member "type" of v, or a fault when v
// is not an object or its type is missing or not a string.
func discriminator(v val) (string, *fault) {
	if !v.IsObject() {
		return "", typeFault("an object", v)
	}
	t := v.Get("type")
	switch {
	case !t.Exists() || t.Type() == gjson.Null:
		return "", missing("type")
	case t.Type() != gjson.String:
		return "", typeFault("a string", t).in("type")
	}
	return t.Str(), nil
}

// name checks a required name: a non-empty string.
func name(v val) *fault {
	if v.Type() != gjson.String {
		return typeFault("a string", v)
	}
	if v.Str() == "" {
		return valueFault("Invalid '" + ph + "': empty string. Expected a name.")
	}
	return nil
}

func stop(v val) *fault {
	if v.Type() == gjson.String {
		return nil
	}
	if !v.IsArray() {
		return typeFault("a string or an array of strings", v)
	}
	if f := array(v, str); f != nil {
		return f
	}
	if n := v.Len(); n > 4 {
		return &fault{code: "array_above_max_length", msg: "Invalid '" + ph + "': array too long. Expected an array with maximum length 4, but got an array with length " +
			strconv.Itoa(n) + " instead."}
	}
	return nil
}

func logitBias(v val) *fault {
	if !v.IsObject() {
		return typeFault("an object", v)
	}
	var f *fault
	v.ForEach(func(_, b val) bool {
		f = decimal(b, -100, 100)
		return f == nil
	})
	return f
}

func metadata(v val) *fault {
	if !v.IsObject() {
		return typeFault("an object", v)
	}
	var f *fault
	n := 0
	v.ForEach(func(k, s val) bool {
		n++
		switch {
		case n > 16:
			f = &fault{code: "object_above_max_properties", msg: "Invalid '" + ph + "': too many properties. Expected an object with at most 16 properties."}
		case utf8.RuneCountInString(k.Str()) > 64:
			f = &fault{code: "string_above_max_length", msg: "Invalid '" + ph + "': a key is longer than 64 characters: " + quote(k.Str()) + "."}
		case s.Type() != gjson.String:
			f = typeFault("a string", s).in(memberName(k.Str()))
		case utf8.RuneCountInString(s.Str()) > 512:
			f = (&fault{code: "string_above_max_length", msg: "Invalid '" + ph + "': string too long. Expected a string with maximum length 512."}).in(memberName(bounded(k.Str())))
		}
		return f == nil
	})
	return f
}

// messages checks the conversation: a non-empty array of messages.
func messages(v val) *fault {
	if v.IsArray() && isEmptyArray(v.Raw()) {
		return &fault{code: "empty_array", msg: "Invalid '" + ph + "': empty array. Expected an array with minimum length 1, but got an empty array instead."}
	}
	return array(v, message)
}

// Bits of the members of a message, to find them given twice.
const (
	mRole = 1 << iota
	mContent
	mToolCalls
	mToolCallID
	mName
	mFunctionCall
	mAudio
	mRefusal
)

// message checks one message: an object with a known role, and the
// members that role requires in the shapes it allows.
func message(m val) *fault {
	if !m.IsObject() {
		return typeFault("an object", m)
	}
	var mf msgMembers
	if f := mf.collect(m); f != nil {
		return f
	}
	switch {
	case !mf.role.Exists():
		return missing("role")
	case mf.role.Type() != gjson.String:
		return typeFault("a string", mf.role).in("role")
	}
	if f := nullableStr(mf.name).in("name"); f != nil {
		return f
	}
	switch mf.role.Str() {
	case "system", "developer", "user":
		if !given(mf.content) {
			return missing("content")
		}
		return messageContent(mf.content).in("content")
	case "assistant":
		return mf.assistant()
	case "tool":
		return mf.tool()
	case "function":
		return mf.function()
	}
	return valueFault("Invalid value for '"+ph+"': %s. Supported values are: 'system', 'developer', 'user', 'assistant', 'tool' and 'function'.",
		quote(mf.role.Str())).in("role")
}

// msgMembers are the members of one message that its role's rules
// read; a member not given is the zero Result.
type msgMembers struct {
	role, content, toolCalls, toolCallID, name, functionCall, audio, refusal val
}

// collect reads m's members into mf, refusing a member given twice and
// one that differs from a known member only in case.
func (mf *msgMembers) collect(m val) *fault {
	var seen uint
	t := m.t
	for j, end := m.members(); j < end; j = t.nextMember(j) {
		var bit uint
		name, v := t.name(j), t.val(j+1)
		switch name {
		case "role":
			bit, mf.role = mRole, v
		case "content":
			bit, mf.content = mContent, v
		case "tool_calls":
			bit, mf.toolCalls = mToolCalls, v
		case "tool_call_id":
			bit, mf.toolCallID = mToolCallID, v
		case "name":
			bit, mf.name = mName, v
		case "function_call":
			bit, mf.functionCall = mFunctionCall, v
		case "audio":
			bit, mf.audio = mAudio, v
		case "refusal":
			bit, mf.refusal = mRefusal, v
		default:
			for _, known := range messageMembers {
				if strings.EqualFold(known, name) {
					return variantFault(name, known)
				}
			}
			continue
		}
		if seen&bit != 0 {
			return valueFault("Invalid '" + ph + "': the member is given more than once.").in(name)
		}
		seen |= bit
	}
	return nil
}

// given reports whether a member is present and not null.
func given(r val) bool { return r.Exists() && r.Type() != gjson.Null }

// assistant checks an assistant message: content may be left out when
// the message calls tools, a function, carries audio or a refusal.
func (mf *msgMembers) assistant() *fault {
	if f := nullableStr(mf.refusal).in("refusal"); f != nil {
		return f
	}
	if given(mf.toolCalls) {
		if f := array(mf.toolCalls, toolCall).in("tool_calls"); f != nil {
			return f
		}
	}
	if given(mf.functionCall) {
		if f := calledFunction(mf.functionCall).in("function_call"); f != nil {
			return f
		}
	}
	if given(mf.audio) {
		if f := object(mf.audio, rule{"id", str, false}).in("audio"); f != nil {
			return f
		}
	}
	if !given(mf.content) {
		if given(mf.toolCalls) || given(mf.functionCall) || given(mf.audio) || given(mf.refusal) {
			return nil
		}
		return missing("content")
	}
	return messageContent(mf.content).in("content")
}

// tool checks a tool message: a string tool_call_id and content.
func (mf *msgMembers) tool() *fault {
	switch {
	case !given(mf.toolCallID):
		return missing("tool_call_id")
	case mf.toolCallID.Type() != gjson.String:
		return typeFault("a string", mf.toolCallID).in("tool_call_id")
	case !given(mf.content):
		return missing("content")
	}
	return messageContent(mf.content).in("content")
}

// function checks a (deprecated) function message: a name, and string
// content when content is given.
func (mf *msgMembers) function() *fault {
	switch {
	case !given(mf.name):
		return missing("name")
	case given(mf.content):
		return str(mf.content).in("content")
	}
	return nil
}

// messageContent checks content that is present and not null: a string
// or an array of content parts.
func messageContent(v val) *fault {
	switch {
	case v.Type() == gjson.String:
		return nil
	case v.IsArray():
		return array(v, contentPart)
	}
	return typeFault("a string or an array of content parts", v)
}

// contentPart checks one part of array content; a part of a type it does
// not know passes if its type is a string.
func contentPart(p val) *fault {
	typ, f := discriminator(p)
	if f != nil {
		return f
	}
	switch typ {
	case "text":
		return object(p, rule{"text", str, true})
	case "refusal":
		return object(p, rule{"refusal", str, true})
	case "image_url":
		return object(p, rule{"image_url", imageURL, true})
	case "input_audio":
		return object(p, rule{"input_audio", inputAudio, true})
	case "file":
		return object(p, rule{"file", file, true})
	}
	return nil
}

func imageURL(v val) *fault {
	return object(v, rule{"url", str, true}, rule{"detail", str, false})
}

func inputAudio(v val) *fault {
	return object(v, rule{"data", str, true}, rule{"format", str, true})
}

func file(v val) *fault {
	return object(v, rule{"file_data", str, false}, rule{"file_id", str, false}, rule{"filename", str, false})
}

// toolCall checks one of an assistant message's tool calls; type defaults
// to function, and a type it does not know passes.
func toolCall(v val) *fault {
	if !v.IsObject() {
		return typeFault("an object", v)
	}
	switch v.Get("type").Str() {
	case "", "function":
		return object(v, rule{"id", str, false}, rule{"type", str, false}, rule{"function", calledFunction, true})
	case "custom":
		return object(v, rule{"id", str, false}, rule{"custom", calledCustom, true})
	}
	return object(v, rule{"id", str, false}, rule{"type", str, false})
}

func calledFunction(v val) *fault {
	return object(v, rule{"name", name, true}, rule{"arguments", str, false})
}

func calledCustom(v val) *fault {
	return object(v, rule{"name", name, true}, rule{"input", str, false})
}

// tool checks one entry of tools: an object with a type; a function tool
// needs a named function.
func tool(v val) *fault {
	typ, f := discriminator(v)
	if f != nil {
		return f
	}
	switch typ {
	case "function":
		return object(v, rule{"function", function, true})
	case "custom":
		return object(v, rule{"custom", customTool, true})
	}
	return nil
}

func anyObject(v val) *fault {
	if !v.IsObject() {
		return typeFault("an object", v)
	}
	return nil
}

// function checks a function definition (tools[i].function, functions[i]).
func function(v val) *fault {
	return object(v, rule{"name", name, true}, rule{"description", str, false}, rule{"parameters", anyObject, false}, rule{"strict", boolean, false})
}

func customTool(v val) *fault {
	return object(v, rule{"name", name, true}, rule{"description", str, false}, rule{"format", anyObject, false})
}

// named checks an object with a required name ({"name":"f"}).
func named(v val) *fault { return object(v, rule{"name", name, true}) }

func toolChoice(v val) *fault {
	if v.Type() == gjson.String {
		return nil
	}
	if !v.IsObject() {
		return typeFault("a string or an object", v)
	}
	typ, f := discriminator(v)
	if f != nil {
		return f
	}
	switch typ {
	case "function", "custom":
		return object(v, rule{typ, named, true})
	case "allowed_tools":
		return object(v, rule{typ, allowedTools, true})
	}
	return nil
}

func allowedTools(v val) *fault {
	return object(v, rule{"mode", str, false}, rule{"tools", func(a val) *fault { return array(a, anyObject) }, false})
}

func functionCall(v val) *fault {
	if v.Type() == gjson.String {
		return nil
	}
	if !v.IsObject() {
		return typeFault("a string or an object", v)
	}
	return named(v)
}

func responseFormat(v val) *fault {
	typ, f := discriminator(v)
	if f != nil {
		return f
	}
	if typ == "json_schema" {
		return object(v, rule{"json_schema", jsonSchema, true})
	}
	return nil
}

func jsonSchema(v val) *fault {
	return object(v, rule{"name", name, true}, rule{"description", str, false}, rule{"schema", anyObject, false}, rule{"strict", boolean, false})
}

func audioOutput(v val) *fault {
	return object(v, rule{"voice", voice, true}, rule{"format", str, true})
}

func voice(v val) *fault {
	if v.Type() == gjson.String {
		return nil
	}
	if !v.IsObject() {
		return typeFault("a string or an object", v)
	}
	return object(v, rule{"id", str, false})
}

func prediction(v val) *fault {
	return object(v, rule{"type", str, true}, rule{"content", messageContent, true})
}

func userLocation(v val) *fault {
	return object(v, rule{"type", str, false}, rule{"approximate", approximate, false})
}

func approximate(v val) *fault {
	return object(v, rule{"city", str, false}, rule{"country", str, false}, rule{"region", str, false}, rule{"timezone", str, false})
}

// memberName is a client's member name as a parameter segment: bounded,
// and `""` for the empty name so that the parameter is never empty.
func memberName(k string) string {
	if k == "" {
		return `""`
	}
	return bounded(k)
}

// badUTF8 finds the string that is not valid UTF-8 (some string is not,
// the caller checked) and names it.
func badUTF8(v val) *fault {
	switch {
	case v.Type() == gjson.String:
		if !utf8.ValidString(v.Raw()) {
			return valueFault("Invalid '" + ph + "': the string is not valid UTF-8.")
		}
	case v.IsArray():
		var f *fault
		i := 0
		v.ForEach(func(_, e val) bool {
			f = badUTF8(e).at(i)
			i++
			return f == nil
		})
		return f
	case v.IsObject():
		var f *fault
		v.ForEach(func(k, e val) bool {
			if !utf8.ValidString(k.Raw()) {
				f = valueFault("Invalid '" + ph + "': the member name is not valid UTF-8.").in(strings.ToValidUTF8(memberName(k.Str()), "\uFFFD"))
				return false
			}
			f = badUTF8(e).in(memberName(k.Str()))
			return f == nil
		})
		return f
	}
	return nil
}

// ClipModel returns model cut to at most MaxModelLen bytes, on a rune
// boundary: what records and logs keep of a name that was refused for its
// length.
func ClipModel(model string) string {
	if len(model) <= MaxModelLen {
		return model
	}
	i := MaxModelLen
	for i > 0 && !utf8.RuneStart(model[i]) {
		i--
	}
	return model[:i]
}
