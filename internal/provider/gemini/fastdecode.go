package gemini

import (
	"encoding/json"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// decodeEvent decodes one streamed generateContent response into g
// exactly as json.Unmarshal does (FuzzDecodeEvent holds the two equal),
// without reflection for the usual event: text and thought parts, finish
// reasons, usage, model version and response id, read on a tape
// (openai.WithValue: one scan; gjson's nested callbacks rescanned each
// level and took a translated stream's handler past its first 8 KiB of
// stack). Its strings may point
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
	if len(data) == 0 {
		return false
	}
	ok := false
	openai.WithValue(data, func(root openai.Value) {
		ok = openai.ReadMembers(root, responseNames, func(i int, v openai.Value) bool {
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
				return str(v, &g.ModelVersion)
			default:
				return str(v, &g.ResponseID)
			}
		}, nil)
	})
	return ok
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

// str reads a JSON string as a view of data; false for any other value,
// null included (encoding/json's path decides those).
func str(v openai.Value, dst *string) bool {
	return v.Type() != gjson.Null && v.ReadStringView(dst)
}

// candidates reads the candidates array.
func candidates(v openai.Value, g *response) bool {
	if !v.IsArray() {
		return false
	}
	if g.Candidates == nil {
		g.Candidates = make([]candidate, 0, 1)
	}
	g.Candidates = g.Candidates[:0]
	return openai.EachElem(v, func(e openai.Value) bool {
		c := nextCandidate(g)
		return openai.ReadMembers(e, candidateNames, func(i int, v openai.Value) bool {
			switch i {
			case 0:
				return contentOf(v, &c.Content)
			case 1:
				return str(v, &c.FinishReason)
			default:
				return v.ReadInt(&c.Index)
			}
		}, nil)
	})
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
func contentOf(o openai.Value, c *content) bool {
	return openai.ReadMembers(o, contentNames, func(i int, v openai.Value) bool {
		if i == 0 {
			return str(v, &c.Role)
		}
		if !v.IsArray() {
			return false
		}
		if c.Parts == nil {
			c.Parts = make([]part, 0, 1)
		}
		c.Parts = c.Parts[:0]
		return openai.EachElem(v, func(e openai.Value) bool {
			c.Parts = append(c.Parts, part{})
			p := &c.Parts[len(c.Parts)-1]
			return openai.ReadMembers(e, partNames, func(i int, v openai.Value) bool {
				switch i {
				case 0:
					return str(v, &p.Text)
				case 1:
					return v.ReadBool(&p.Thought)
				case 2:
					return str(v, &p.ThoughtSignature)
				default:
					return false // inline data, function calls: encoding/json's
				}
			}, nil)
		})
	}, nil)
}

// usageOf reads usageMetadata's counts.
func usageOf(v openai.Value, u *usageMetadata) bool {
	dst := [...]*int{&u.PromptTokenCount, &u.CandidatesTokenCount, &u.ThoughtsTokenCount, &u.ToolUsePromptTokenCount, &u.CachedContentTokenCount, &u.TotalTokenCount}
	return openai.ReadMembers(v, usageNames, func(i int, v openai.Value) bool { return v.ReadInt(dst[i]) }, nil)
}
