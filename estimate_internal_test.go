package llmbridge

import (
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/openai/corpus"
)

// TestPromptEstimateIsTheWalk: the prompt-token estimate read off a tape
// (openai.TextBytes) is the gjson walk's, for every client format's
// body, escapes included; a body too large for a tape still gets the
// walk's.
func TestPromptEstimateIsTheWalk(t *testing.T) {
	result := `tool output with \"quotes\", a tab\t and é\u00e9\ud83d\ude00`
	for _, body := range []string{
		`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"` + result + `"}]}`,
		`{"model":"anthropic/claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"` + result + `"}]}]}`,
		`{"model":"openai/gpt-4o","input":"` + result + `"}`,
		`{"model":"openai/text-embedding-3-small","input":["` + result + `","two"]}`,
		`{"messages":[` + strings.Repeat(`0,`, 1<<20) + `{"content":"` + result + `"}]}`, // over the tape's bound
	} {
		want := (stringBytes(openai.ParseView([]byte(body))) + 3) / 4
		c := &call{input: input{body: []byte(body)}}
		if got := (&Request{c: c}).PromptTokensEstimate(); got != want || want == 0 {
			t.Errorf("%.60s…: estimate %d, the walk's %d", body, got, want)
		}
	}
}

// BenchmarkPromptEstimate: the estimate of a coding agent's 100 kB
// Messages request, read off a tape against the gjson walk.
func BenchmarkPromptEstimate(b *testing.B) {
	body := corpus.AgentMessages(200)
	b.Run("tape", func(b *testing.B) {
		c := &call{input: input{body: body}}
		b.ReportAllocs()
		for b.Loop() {
			(&Request{c: c}).PromptTokensEstimate()
		}
	})
	b.Run("walk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = (stringBytes(openai.ParseView(body)) + 3) / 4
		}
	})
}
