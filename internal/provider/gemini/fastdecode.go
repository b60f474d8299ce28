package gemini

import (
	"encoding/json"
	"unsafe"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// decodeEvent decodes one streamed generateContent response into g
// exactly as json.Unmarshal does (FuzzDecodeEvent holds the two equal),
// without reflection for the usual event: text and thought parts, finish
// reasons, usage, model version and response id. Its strings may point
// into data, which the SSE reader reuses: the caller copies what it
// keeps. Anything else — function calls, inline data, a prompt
// feedback, nulls, a member a case-variant away from a known one, a name
// given twice — goes to json.Unmarshal.
//
// A stream decodes every event into the same g: the candidates and parts
// arrays g holds are reused, and the usage is read into room when it is
// not nil (the caller copies it before the next event).
func decodeEvent(data []byte, g *response, room *usageMetadata) error {
	if fastEvent(data, g, room) {
		return nil
	}
	*g = response{}
	return json.Unmarshal(data, g)
}

// fastEvent fills g from data and reports whether it could.
func fastEvent(data []byte, g *response, room *usageMetadata) bool {
	if len(data) == 0 || !openai.ValidJSON(data) {
		return false
	}
	root := gjson.Parse(unsafe.String(unsafe.SliceData(data), len(data)))
	if !root.IsObject() {
		return false
	}
	return openai.KnownMembers(root, responseNames, func(i int, v gjson.Result) bool {
		switch i {
		case 0:
			return candidates(v, g)
		case 1:
			return false // promptFeedback: rare, encoding/json's
		case 2:
			if room == nil {
				room = new(usageMetadata)
			}
			*room = usageMetadata{}
			g.UsageMetadata = room
			return usageOf(v, room)
		case 3:
			return openai.StringMember(v, &g.ModelVersion)
		default:
			return openai.StringMember(v, &g.ResponseID)
		}
	})
}

// The member names each level of an event binds, as encoding/json binds
// them; every other name is ignored unless it equals one of them under
// case folding (encoding/json would bind it: the slow path decides).
var (
	responseNames  = []string{"candidates", "promptFeedback", "usageMetadata", "modelVersion", "responseId"}
	candidateNames = []string{"content", "finishReason", "index"}
	contentNames   = []string{"role", "parts"}
	partNames      = []string{"text", "thought", "thoughtSignature", "inlineData", "functionCall", "functionResponse"}
	usageNames     = []string{"promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "toolUsePromptTokenCount", "cachedContentTokenCount", "totalTokenCount"}
)

// candidates reads the candidates array.
func candidates(v gjson.Result, g *response) bool {
	if !v.IsArray() {
		return false
	}
	if g.Candidates == nil {
		g.Candidates = make([]candidate, 0, 1)
	}
	g.Candidates = g.Candidates[:0]
	ok := true
	v.ForEach(func(_, e gjson.Result) bool {
		c := nextCandidate(g)
		ok = e.IsObject() && openai.KnownMembers(e, candidateNames, func(i int, v gjson.Result) bool {
			switch i {
			case 0:
				return v.IsObject() && contentOf(v, &c.Content)
			case 1:
				return openai.StringMember(v, &c.FinishReason)
			default:
				return openai.IntMember(v, &c.Index)
			}
		})
		return ok
	})
	return ok
}

// nextCandidate appends a zero candidate to g.Candidates, keeping the
// parts array a candidate held there in an earlier event.
func nextCandidate(g *response) *candidate {
	n := len(g.Candidates)
	if n == cap(g.Candidates) {
		g.Candidates = append(g.Candidates, candidate{})
		return &g.Candidates[n]
	}
	g.Candidates = g.Candidates[:n+1]
	c := &g.Candidates[n]
	*c = candidate{Content: content{Parts: c.Content.Parts[:0]}}
	return c
}

// contentOf reads a candidate's content: its role and text parts.
func contentOf(o gjson.Result, c *content) bool {
	return openai.KnownMembers(o, contentNames, func(i int, v gjson.Result) bool {
		if i == 0 {
			return openai.StringMember(v, &c.Role)
		}
		if !v.IsArray() {
			return false
		}
		if c.Parts == nil {
			c.Parts = make([]part, 0, 1)
		}
		c.Parts = c.Parts[:0]
		ok := true
		v.ForEach(func(_, e gjson.Result) bool {
			c.Parts = append(c.Parts, part{})
			p := &c.Parts[len(c.Parts)-1]
			ok = e.IsObject() && openai.KnownMembers(e, partNames, func(i int, v gjson.Result) bool {
				switch i {
				case 0:
					return openai.StringMember(v, &p.Text)
				case 1:
					p.Thought = v.Type == gjson.True
					return v.Type == gjson.True || v.Type == gjson.False
				case 2:
					return openai.StringMember(v, &p.ThoughtSignature)
				default:
					return false // inline data, function calls: encoding/json's
				}
			})
			return ok
		})
		return ok
	})
}

// usageOf reads usageMetadata's counts.
func usageOf(v gjson.Result, u *usageMetadata) bool {
	if !v.IsObject() {
		return false
	}
	dst := [...]*int{&u.PromptTokenCount, &u.CandidatesTokenCount, &u.ThoughtsTokenCount, &u.ToolUsePromptTokenCount, &u.CachedContentTokenCount, &u.TotalTokenCount}
	return openai.KnownMembers(v, usageNames, func(i int, v gjson.Result) bool { return openai.IntMember(v, dst[i]) })
}
