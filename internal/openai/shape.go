package openai

// Shape reshapes a translated chunk the way OpenAI streams: one tool
// call per chunk, and a finishing choice's finish reason in a closing
// chunk of its own whose delta is empty. The SDKs' stream helpers rely
// on it: a tool call is done when a chunk no longer continues it
// (openai-go's JustFinishedToolCall, openai-node's
// tool_calls.function.arguments.done). Gemini sends calls whole,
// several in one event, often with the finish reason. Shape returns nil
// when chunk needs no reshaping (the usual text chunk: no allocation).
func Shape(chunk *ChatChunk) []*ChatChunk {
	if !needsSplit(chunk) {
		return nil
	}
	with := func(choices ...ChunkChoice) *ChatChunk {
		c := *chunk
		c.Choices = choices
		return &c
	}
	var first, finishing []ChunkChoice
	var more []*ChatChunk // further tool calls, one per chunk
	for _, ch := range chunk.Choices {
		c := ch
		c.FinishReason = nil
		if calls := ch.Delta.ToolCalls; len(calls) > 1 {
			c.Delta.ToolCalls = calls[:1]
			for _, tc := range calls[1:] {
				more = append(more, with(ChunkChoice{Index: ch.Index, Delta: Delta{ToolCalls: []ToolCall{tc}}}))
			}
		}
		if !emptyDelta(&c.Delta) {
			first = append(first, c)
		}
		if ch.FinishReason != nil {
			finishing = append(finishing, ChunkChoice{Index: ch.Index, FinishReason: ch.FinishReason})
		}
	}
	var out []*ChatChunk
	if len(first) > 0 {
		out = append(out, with(first...))
	}
	out = append(out, more...)
	if len(finishing) > 0 {
		out = append(out, with(finishing...))
	}
	return out
}

// needsSplit reports whether a choice of chunk carries several tool
// calls, or content together with its finish reason.
func needsSplit(chunk *ChatChunk) bool {
	for i := range chunk.Choices {
		ch := &chunk.Choices[i]
		if len(ch.Delta.ToolCalls) > 1 || ch.FinishReason != nil && !emptyDelta(&ch.Delta) {
			return true
		}
	}
	return false
}

// emptyDelta reports whether d carries nothing.
func emptyDelta(d *Delta) bool {
	return d.Role == "" && d.Content == nil && d.ReasoningContent == nil && d.Refusal == nil && len(d.ToolCalls) == 0 && len(d.Extra) == 0
}

// YieldShaped yields chunk to yield in OpenAI's stream shape (Shape),
// for a provider's DecodeStream; false when the consumer stopped.
func YieldShaped(chunk *ChatChunk, yield func(*ChatChunk, error) bool) bool {
	parts := Shape(chunk)
	if parts == nil {
		return yield(chunk, nil)
	}
	for _, c := range parts {
		if !yield(c, nil) {
			return false
		}
	}
	return true
}
