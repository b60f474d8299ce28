package openai

import "testing"

// A finish chunk that carries usage (DeepSeek's last) reaches a consumer
// that did not ask for usage without it, and one that did as the finish
// chunk plus OpenAI's usage-only chunk.
func TestSplitUsage(t *testing.T) {
	stop := "stop"
	finish := &ChatChunk{ID: "c", Choices: []ChunkChoice{{FinishReason: &stop}}, Usage: &Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3}}
	usageOnly := &ChatChunk{ID: "c", Choices: []ChunkChoice{}, Usage: finish.Usage}
	plain := &ChatChunk{ID: "c", Choices: []ChunkChoice{{}}}
	tests := []struct {
		name   string
		in     *ChatChunk
		asked  bool
		chunks int
		usage  []bool // whether each output chunk carries usage
	}{
		{"finish, not asked", finish, false, 1, []bool{false}},
		{"finish, asked", finish, true, 2, []bool{false, true}},
		{"usage only, not asked", usageOnly, false, 0, nil},
		{"usage only, asked", usageOnly, true, 1, []bool{true}},
		{"no usage", plain, false, 1, []bool{false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := SplitUsage(tc.in, tc.asked)
			if len(out) != tc.chunks {
				t.Fatalf("%d chunks, want %d", len(out), tc.chunks)
			}
			for i, ch := range out {
				if (ch.Usage != nil) != tc.usage[i] {
					t.Errorf("chunk %d usage %v, want present=%v", i, ch.Usage, tc.usage[i])
				}
			}
			if tc.in.Usage == nil && out[0] != tc.in {
				t.Error("a chunk without usage was copied")
			}
		})
	}
	if finish.Usage == nil {
		t.Error("SplitUsage changed its input")
	}
}
