package openai

import "github.com/tidwall/gjson"

// UsageChunk builds an OpenAI usage chunk ("choices":[]) from the identity
// members of chunk.
func UsageChunk(chunk, usage []byte) []byte {
	out := make([]byte, 0, 256+len(usage))
	out = append(out, '{')
	keys := [...]string{"id", "object", "created", "model", "system_fingerprint"}
	for i, r := range gjson.GetManyBytes(chunk, keys[:]...) {
		if !r.Exists() {
			continue
		}
		out = append(out, '"')
		out = append(out, keys[i]...)
		out = append(out, `":`...)
		out = append(out, r.Raw...)
		out = append(out, ',')
	}
	out = append(out, `"choices":[],"usage":`...)
	out = append(out, usage...)
	return append(out, '}')
}

// SplitUsage applies the chat stream's usage rules to a typed chunk and
// returns the chunks a consumer should see: a usage-only chunk only when
// it asked for usage, and a finish chunk that carries usage (DeepSeek)
// split into the finish chunk and OpenAI's usage chunk when it did, or
// without its usage when it did not (the bridge asked for it upstream).
func SplitUsage(ch *ChatChunk, includeUsage bool) []*ChatChunk {
	if ch.Usage == nil {
		return []*ChatChunk{ch}
	}
	if len(ch.Choices) == 0 {
		if includeUsage {
			return []*ChatChunk{ch}
		}
		return nil
	}
	finish := *ch
	finish.Usage = nil
	if !includeUsage {
		return []*ChatChunk{&finish}
	}
	u := &ChatChunk{ID: ch.ID, Object: ch.Object, Created: ch.Created, Model: ch.Model,
		SystemFingerprint: ch.SystemFingerprint, Choices: []ChunkChoice{}, Usage: ch.Usage}
	return []*ChatChunk{&finish, u}
}
