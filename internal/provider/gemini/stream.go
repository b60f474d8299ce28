package gemini

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"
	"time"
	"unsafe"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/sse"
)

// errTruncated ends a stream that stopped before any candidate finished:
// Gemini streams have no [DONE], so a finish reason is the end.
var errTruncated = openai.Truncated("no finish reason")

// DecodeStream translates a streamGenerateContent?alt=sse body into OpenAI
// chunks: a role chunk first, then text, reasoning and whole tool calls
// (with indexes, ids and signatures), the finish chunk, and a usage chunk
// built from the last usageMetadata. It owns and closes resp.Body.
func (p *Provider) DecodeStream(resp *http.Response) iter.Seq2[*openai.ChatChunk, error] {
	return func(yield func(*openai.ChatChunk, error) bool) {
		// The only closer of the body: every return below, including a
		// consumer that stops early, passes through here.
		defer resp.Body.Close()
		d := streamDecoder{created: time.Now().Unix(), id: mintID()}
		// The candidates' progress lives apart from d: chunks carry d's
		// strings to the consumer, and escape analysis would move a map
		// stored in d to the heap with them.
		states := choiceStates{}
		r := sse.NewReader(resp.Body)
		defer r.Release()
		var g response // every event's, its arrays reused (decodeEvent)
		for {
			ev, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				yield(nil, err)
				return
			}
			g = response{Candidates: g.Candidates[:0]}
			chunk, err := d.event(ev.Data, &g, states)
			if err != nil {
				yield(nil, err)
				return
			}
			if chunk == nil {
				continue
			}
			// OpenAI's stream shape, which the SDKs' helpers rely on:
			// Gemini sends calls whole, several in one event, often
			// with the finish reason.
			if !openai.YieldShaped(chunk, yield) {
				return
			}
		}
		if !states.finished() {
			yield(nil, errTruncated)
			return
		}
		if chunk := d.usageChunk(); chunk != nil {
			yield(chunk, nil)
		}
	}
}

// streamDecoder is what a Gemini stream remembers between events besides
// each candidate's progress. Each event is a whole generateContent
// response, so the ids, model and usage of the latest one win.
//
// Its chunks, and the texts they carry, come from a Slab and an Arena: a
// few allocations for many events, and nothing handed out is reused.
type streamDecoder struct {
	created   int64
	id, model string
	idSent    bool           // a chunk went out with id: it stays
	last      *usageMetadata // cumulative: the last one counts (&lastUsage)
	lastUsage usageMetadata
	room      usageMetadata // where each event's usage is read
	arena     openai.Arena
	blocks    openai.Slab[chunkBlock]
}

// chunkBlock is a chunk with room for one choice and its strings.
type chunkBlock struct {
	c                      openai.ChatChunk
	choice                 [1]openai.ChunkChoice
	text, thoughts, finish string
}

// choiceStates is the progress of each candidate, by candidate index.
type choiceStates map[int]*choiceState

// choiceState is one candidate's progress across events.
type choiceState struct {
	started  bool // its role chunk went out
	calls    int  // tool calls so far, the next call's OpenAI index
	finished bool // it carried a finish reason
}

// event translates one SSE event into a chunk, or nil when the event
// carries no candidate (a usage-only event still updates the usage).
func (d *streamDecoder) event(data []byte, g *response, states choiceStates) (*openai.ChatChunk, error) {
	if err := decodeEvent(data, g, &d.room); err != nil {
		return nil, fmt.Errorf("decoding Gemini event: %w", err)
	}
	if len(g.Candidates) == 0 && g.PromptFeedback != nil && g.PromptFeedback.BlockReason != "" {
		return nil, blocked(g.PromptFeedback.BlockReason)
	}
	d.note(g)
	if len(g.Candidates) == 0 {
		return nil, nil
	}
	b := d.blocks.New()
	b.c = openai.ChatChunk{ID: d.id, Object: "chat.completion.chunk", Created: d.created, Model: d.model, Choices: b.choice[:0]}
	for i := range g.Candidates {
		into := b
		if i > 0 {
			into = new(chunkBlock) // the strings of further candidates
		}
		b.c.Choices = append(b.c.Choices, states.choice(&g.Candidates[i], into, &d.arena))
	}
	d.idSent = true
	return &b.c, nil
}

// note keeps the event's usage, response id and model version. Later
// events may omit them, so an empty value keeps the earlier one.
func (d *streamDecoder) note(g *response) {
	if g.UsageMetadata != nil {
		d.lastUsage = *g.UsageMetadata // g's is d.room, read again next event
		d.last = &d.lastUsage
	}
	if g.ResponseID != "" && !d.idSent {
		d.id = "chatcmpl-" + g.ResponseID
	}
	if g.ModelVersion != "" && g.ModelVersion != d.model {
		d.model = strings.Clone(g.ModelVersion) // g's strings are data's (decodeEvent)
	}
}

// choice translates one candidate of an event. Its first appearance
// carries the assistant role; OpenAI clients expect a content member on
// that chunk unless it calls tools, so an empty one is sent then.
//
// The strings the choice points to are kept in b, the texts' bytes copied
// from the event (whose data the SSE reader reuses) into arena.
func (states choiceStates) choice(c *candidate, b *chunkBlock, arena *openai.Arena) openai.ChunkChoice {
	st := states[c.Index]
	if st == nil {
		st = &choiceState{}
		states[c.Index] = st
	}
	ch := openai.ChunkChoice{Index: c.Index}
	if !st.started {
		ch.Delta.Role = "assistant"
		st.started = true
	}
	b.text, b.thoughts = st.parts(c.Content.Parts, &ch.Delta, arena)
	if len(b.text) > 0 || ch.Delta.Role != "" && len(ch.Delta.ToolCalls) == 0 {
		ch.Delta.Content = &b.text
	}
	if len(b.thoughts) > 0 {
		ch.Delta.ReasoningContent = &b.thoughts
	}
	// A choice that called tools in any event finishes with "tool_calls".
	if b.finish = finishReason(c.FinishReason, st.calls > 0); b.finish != "" {
		ch.FinishReason = &b.finish
		st.finished = true
	}
	return ch
}

// parts sorts a candidate's parts: function calls become whole OpenAI
// tool calls in delta (numbered across the whole stream, since Gemini
// sends each call complete), thoughts and text are joined, copied into
// arena, and returned.
func (st *choiceState) parts(parts []part, delta *openai.Delta, arena *openai.Arena) (text, thoughts string) {
	var nText, nThoughts int
	for _, pt := range parts {
		switch {
		case pt.FunctionCall != nil:
			idx := st.calls
			st.calls++
			delta.ToolCalls = append(delta.ToolCalls, openai.ToolCall{Index: &idx, ID: callID(pt.FunctionCall, pt.ThoughtSignature), Type: "function",
				Function: openai.FunctionCall{Name: pt.FunctionCall.Name, Arguments: args(pt.FunctionCall.Args)}})
		case pt.Thought:
			nThoughts += len(pt.Text)
		default:
			nText += len(pt.Text)
		}
	}
	return joinParts(parts, false, nText, arena), joinParts(parts, true, nThoughts, arena)
}

// joinParts is the texts of the parts that are thoughts (or not), n bytes
// in all, copied into arena.
func joinParts(parts []part, thought bool, n int, arena *openai.Arena) string {
	if n == 0 {
		return ""
	}
	b := arena.Alloc(n)[:0]
	for _, pt := range parts {
		if pt.FunctionCall == nil && pt.Thought == thought {
			b = append(b, pt.Text...)
		}
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// finished reports whether the stream ended properly: at least one
// candidate, and every candidate seen carried a finish reason.
func (states choiceStates) finished() bool {
	if len(states) == 0 {
		return false
	}
	for _, st := range states {
		if !st.finished {
			return false
		}
	}
	return true
}

// mintID is a stream's chunk id until an event gives its responseId
// ("id" is never empty: clients key their accumulators on it).
func mintID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "chatcmpl-" + hex.EncodeToString(b[:])
}

// usageChunk is the closing usage chunk, or nil when Gemini sent no
// usageMetadata.
func (d *streamDecoder) usageChunk() *openai.ChatChunk {
	if d.last == nil {
		return nil
	}
	return &openai.ChatChunk{ID: d.id, Object: "chat.completion.chunk", Created: d.created, Model: d.model,
		Choices: []openai.ChunkChoice{}, Usage: d.last.usage()}
}
