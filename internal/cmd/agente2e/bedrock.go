package main

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/tidwall/gjson"

	"github.com/llmbridge/llmbridge"
	bedrockprov "github.com/llmbridge/llmbridge/internal/provider/bedrock"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// bedrockCallID is the id the Bedrock fake gives its tool call.
const bedrockCallID = "tooluse_e2eLlmbridgeShell01"

// signedBedrock is the Bedrock provider the claude-bedrock scenario uses:
// SigV4 with the fake's credentials (which the fake verifies), not its
// API key.
func signedBedrock(c llmbridge.ProviderConfig) llmbridge.Provider {
	return bedrockprov.New(bedrockprov.Config{Name: "bedrock", Region: testupstream.BedrockRegion, BaseURL: c.BaseURL, Models: c.Models,
		Credentials: credentials.NewStaticCredentialsProvider(testupstream.BedrockAccessKeyID, testupstream.BedrockSecretKey, testupstream.BedrockSessionToken)})
}

// inspectConverse reads a Converse request: toolConfig's tools and the
// toolResult answering the fake's call.
func inspectConverse(root gjson.Result, in *inspection) {
	root.Get("toolConfig.tools").ForEach(func(_, t gjson.Result) bool {
		spec := t.Get("toolSpec")
		in.Tools = append(in.Tools, tool{spec.Get("name").String(), spec.Get("inputSchema.json")})
		return true
	})
	root.Get("messages").ForEach(func(_, m gjson.Result) bool {
		m.Get("content").ForEach(func(_, b gjson.Result) bool {
			if r := b.Get("toolResult"); r.Exists() && r.Get("toolUseId").String() == bedrockCallID {
				in.HasResult, in.Result = true, textOf(r.Get("content"))
			}
			return true
		})
		return true
	})
}

// converseRules is messagesRules for Converse: every toolUse of an
// assistant turn answered by a toolResult in the next (user) turn.
func converseRules(messages gjson.Result) []string {
	var bad []string
	msgs := messages.Array()
	for i, m := range msgs {
		if m.Get("role").String() != "assistant" {
			continue
		}
		open := map[string]bool{}
		m.Get("content.#.toolUse.toolUseId").ForEach(func(_, id gjson.Result) bool {
			open[id.String()] = true
			return true
		})
		if len(open) == 0 || i+1 == len(msgs) {
			continue
		}
		msgs[i+1].Get("content.#.toolResult.toolUseId").ForEach(func(_, id gjson.Result) bool {
			delete(open, id.String())
			return true
		})
		for id := range open {
			bad = append(bad, fmt.Sprintf("messages.%d: toolUse %s has no toolResult in the next user message", i, id))
		}
	}
	return bad
}
