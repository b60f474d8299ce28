package gemini

import (
	"encoding/json"
	"strconv"
	"strings"
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
func decodeEvent(data []byte, g *response) error {
	if fastEvent(data, g) {
		return nil
	}
	*g = response{}
	return json.Unmarshal(data, g)
}

// fastEvent fills g from data and reports whether it could.
func fastEvent(data []byte, g *response) bool {
	if len(data) == 0 || !openai.ValidJSON(data) {
		return false
	}
	root := gjson.Parse(unsafe.String(unsafe.SliceData(data), len(data)))
	if !root.IsObject() {
		return false
	}
	return members(root, responseNames, func(i int, v gjson.Result) bool {
		switch i {
		case 0:
			return candidates(v, g)
		case 1:
			return false // promptFeedback: rare, encoding/json's
		case 2:
			g.UsageMetadata = new(usageMetadata)
			return usageOf(v, g.UsageMetadata)
		case 3:
			return str(v, &g.ModelVersion)
		default:
			return str(v, &g.ResponseID)
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

// members calls f for each member of o whose name is one of names (its
// index), and reports false when f does, when such a name comes twice,
// when a value is null (encoding/json's null rules differ per type) or
// when another name folds onto one of names.
func members(o gjson.Result, names []string, f func(i int, v gjson.Result) bool) bool {
	var seen uint8
	ok := true
	o.ForEach(func(k, v gjson.Result) bool {
		i := indexOf(names, k.Str)
		switch {
		case i < 0:
			ok = !foldsOnto(names, k.Str)
		case seen&(1<<i) != 0 || v.Type == gjson.Null:
			ok = false
		default:
			seen |= 1 << i
			ok = f(i, v)
		}
		return ok
	})
	return ok
}

func indexOf(names []string, n string) int {
	for i, m := range names {
		if m == n {
			return i
		}
	}
	return -1
}

func foldsOnto(names []string, n string) bool {
	for _, m := range names {
		if strings.EqualFold(m, n) {
			return true
		}
	}
	return false
}

// str reads a string member.
func str(v gjson.Result, dst *string) bool {
	if v.Type != gjson.String {
		return false
	}
	s, ok := openai.Unquote(v.Raw)
	*dst = s
	return ok
}

// integer reads an int member written as a plain integer.
func integer(v gjson.Result, dst *int) bool {
	if v.Type != gjson.Number {
		return false
	}
	n, err := strconv.Atoi(v.Raw)
	*dst = n
	return err == nil
}

// candidates reads the candidates array.
func candidates(v gjson.Result, g *response) bool {
	if !v.IsArray() {
		return false
	}
	g.Candidates = make([]candidate, 0, 1)
	ok := true
	v.ForEach(func(_, e gjson.Result) bool {
		g.Candidates = append(g.Candidates, candidate{})
		c := &g.Candidates[len(g.Candidates)-1]
		ok = e.IsObject() && members(e, candidateNames, func(i int, v gjson.Result) bool {
			switch i {
			case 0:
				return v.IsObject() && contentOf(v, &c.Content)
			case 1:
				return str(v, &c.FinishReason)
			default:
				return integer(v, &c.Index)
			}
		})
		return ok
	})
	return ok
}

// contentOf reads a candidate's content: its role and text parts.
func contentOf(o gjson.Result, c *content) bool {
	return members(o, contentNames, func(i int, v gjson.Result) bool {
		if i == 0 {
			return str(v, &c.Role)
		}
		if !v.IsArray() {
			return false
		}
		c.Parts = make([]part, 0, 1)
		ok := true
		v.ForEach(func(_, e gjson.Result) bool {
			c.Parts = append(c.Parts, part{})
			p := &c.Parts[len(c.Parts)-1]
			ok = e.IsObject() && members(e, partNames, func(i int, v gjson.Result) bool {
				switch i {
				case 0:
					return str(v, &p.Text)
				case 1:
					p.Thought = v.Type == gjson.True
					return v.Type == gjson.True || v.Type == gjson.False
				case 2:
					return str(v, &p.ThoughtSignature)
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
	return members(v, usageNames, func(i int, v gjson.Result) bool { return integer(v, dst[i]) })
}
