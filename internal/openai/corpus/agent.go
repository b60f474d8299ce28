package corpus

import "strings"

// AgentMessages is a coding agent's Messages API request as Claude Code
// sends one late in a session: n tool results of code, with the quotes
// and line breaks JSON escapes (n = 200 is about 110 kB), for the
// benchmarks of what the bridge does per request body.
func AgentMessages(n int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"model":"anthropic/claude-sonnet-4-5","max_tokens":32000,"stream":true,"messages":[`)
	for i := range n {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":"` + strings.Repeat(`line of code with \"quotes\" and text\n`, 12) + `"}]}`)
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}
