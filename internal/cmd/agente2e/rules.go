package main

import (
	"fmt"

	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/tidwall/gjson"
)

// historyRules checks the rules the real APIs enforce on a conversation's
// tool turns, which the fakes do not: Chat Completions wants the tool
// messages right after the assistant message whose tool_calls they answer
// (OpenAI: "An assistant message with 'tool_calls' must be followed by
// tool messages responding to each 'tool_call_id'"); Messages wants every
// tool_use answered by a tool_result in the next user message. It returns
// one line per violation.
func historyRules(f testupstream.Flavor, api string, body []byte) []string {
	if !gjson.ValidBytes(body) {
		return nil
	}
	root := gjson.ParseBytes(body)
	switch {
	case f == testupstream.Anthropic || f == testupstream.Vertex:
		return messagesRules(root.Get("messages"))
	case f == testupstream.Bedrock:
		return converseRules(root.Get("messages"))
	case f == testupstream.GeminiNative || api == "responses":
		return nil
	}
	return chatRules(root.Get("messages"))
}

func chatRules(messages gjson.Result) []string {
	var bad []string
	msgs := messages.Array()
	for i := 0; i < len(msgs); i++ {
		m := msgs[i]
		switch m.Get("role").String() {
		case "assistant":
			calls := m.Get("tool_calls").Array()
			if len(calls) == 0 {
				continue
			}
			open := map[string]bool{}
			for _, c := range calls {
				open[c.Get("id").String()] = true
			}
			j := i + 1
			for ; j < len(msgs) && msgs[j].Get("role").String() == "tool"; j++ {
				delete(open, msgs[j].Get("tool_call_id").String())
			}
			for id := range open {
				next := "the end"
				if j < len(msgs) {
					next = fmt.Sprintf("a %q message", msgs[j].Get("role").String())
				}
				bad = append(bad, fmt.Sprintf("messages.%d: assistant tool_call %s is not answered by the tool messages that follow it (next comes %s)", i, id, next))
			}
			i = j - 1
		case "tool":
			bad = append(bad, fmt.Sprintf("messages.%d: a tool message (tool_call_id %s) that does not follow an assistant message with tool_calls", i, m.Get("tool_call_id").String()))
		}
	}
	return bad
}

func messagesRules(messages gjson.Result) []string {
	var bad []string
	var turns []gjson.Result // user and assistant turns; system messages stand between them
	var index []int
	for i, m := range messages.Array() {
		if r := m.Get("role").String(); r == "user" || r == "assistant" {
			turns, index = append(turns, m), append(index, i)
		}
	}
	for k, m := range turns {
		if m.Get("role").String() != "assistant" {
			continue
		}
		open := map[string]bool{}
		m.Get("content").ForEach(func(_, b gjson.Result) bool {
			if b.Get("type").String() == "tool_use" {
				open[b.Get("id").String()] = true
			}
			return true
		})
		if len(open) == 0 || k+1 == len(turns) {
			continue
		}
		turns[k+1].Get("content").ForEach(func(_, b gjson.Result) bool {
			if b.Get("type").String() == "tool_result" {
				delete(open, b.Get("tool_use_id").String())
			}
			return true
		})
		for id := range open {
			bad = append(bad, fmt.Sprintf("messages.%d: tool_use %s has no tool_result in the next user message", index[k], id))
		}
	}
	return bad
}
