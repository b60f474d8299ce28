package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// slowJoin is what a non-streamed hit of a stored stream answered before
// JoinedResponse: the chunks decoded, accumulated and encoded.
func slowJoin(e *Entry) ([]byte, error) {
	r, err := e.DecodeResponse()
	if err != nil {
		return nil, err
	}
	return openai.Marshal(r)
}

// entryOf is a stream entry of the chunks, one a line.
func entryOf(lines string) *Entry {
	e := &Entry{}
	for l := range strings.SplitSeq(lines, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			e.Chunks = append(e.Chunks, json.RawMessage(l))
		}
	}
	return e
}

// joinStreams are streams of every shape the joiner reads: text,
// reasoning, refusals, tool calls (by index, by id, appended to the last
// call), several choices out of order, usage (plain and with details),
// logprobs, unknown members at each level, escapes that re-encode
// differently, and finish reasons of every kind.
var joinStreams = map[string]string{
	"text": stream22(),
	"tools": `{"id":"c2","object":"chat.completion.chunk","created":9,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"t1","type":"function","function":{"name":"f","arguments":"{\"a\""}}]},"logprobs":null,"finish_reason":null}]}
{"id":"c2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]}
{"id":"c2","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"t2","function":{"name":"g","arguments":"{}"},"extra_content":{"google":{"thought_signature":"sig"}}}]}}]}
{"id":"c2","choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":" "}}]}}]}
{"id":"c2","choices":[{"index":0,"delta":{"tool_calls":[{"id":"t3","function":{"name":"h"}}]},"finish_reason":"tool_calls"}]}
{"id":"c2","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"prompt_tokens_details":{"cached_tokens":1,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":1}}}`,
	"choices": `{"id":"","created":1,"model":"early","choices":[],"service_tier":"flex","obfuscation":"x"}
{"id":"c3","created":2,"model":"m","system_fingerprint":"fp","choices":[{"index":1,"delta":{"role":"assistant","content":"B"},"logprobs":{"content":[{"token":"B","logprob":-0.1,"bytes":[66],"top_logprobs":[]}]}},{"index":0,"delta":{"role":"assistant","content":"A","annotations":[]}}],"service_tier":"default"}
{"id":"c4","created":3,"model":"later","choices":[{"index":0,"delta":{"content":" \u00e9\u2028\b\f\u0001<&>\"\\\/ \ud83d\ude00 \ud800"},"finish_reason":"stop"},{"index":1,"delta":{"refusal":"I can't"},"finish_reason":"content_filter","extra":1}]}
{"id":"c4","choices":[{"index":2,"delta":{"reasoning_content":"hmm","reasoning_signature":"s1","name":"dropped"},"finish_reason":"length"}],"usage":null}
{"id":"c4","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`,
	"refusal only": `{"id":"c5","choices":[{"index":0,"delta":{"role":"assistant","refusal":"No."}}]}
{"id":"c5","choices":[{"index":0,"delta":{"refusal":" Sorry."},"finish_reason":"stop"}]}`,
	"spaced members": `{"id":"c6","choices":[{"index":0,"delta":{"content":"x","x_meta":{ "a" : [1, 2] }},"finish_reason":"stop"}],"x_top": { "b" : null }}`,
	"no choices":     `{"id":"c7","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":0,"total_tokens":1}}`,
}

// stream22 is BenchmarkCacheHit's stream: 22 chunks as OpenAI sends them.
func stream22() string {
	head := `{"id":"chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl","object":"chat.completion.chunk","created":1782955817,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_d0469e1700","choices":`
	var b strings.Builder
	fmt.Fprintf(&b, "%s[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"C63r\"}\n", head)
	for i := range 19 {
		fmt.Fprintf(&b, "%s[{\"index\":0,\"delta\":{\"content\":\" word%d\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"qfQVOwfh\"}\n", head, i)
	}
	fmt.Fprintf(&b, "%s[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null,\"obfuscation\":\"VskH\"}\n", head)
	fmt.Fprintf(&b, "%s[],\"usage\":{\"prompt_tokens\":53,\"completion_tokens\":19,\"total_tokens\":72}}\n", head)
	return b.String()
}

// TestJoinedResponseIsTheSlowAnswer: for every stream shape, the joined
// body is byte for byte what decoding, accumulating and encoding gives.
func TestJoinedResponseIsTheSlowAnswer(t *testing.T) {
	for name, lines := range joinStreams {
		t.Run(name, func(t *testing.T) {
			e := entryOf(lines)
			want, err := slowJoin(e)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := e.JoinedResponse()
			if !ok {
				t.Fatalf("not joined; want\n%s", want)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("joined\n got %s\nwant %s", got, want)
			}
			j, ok := e.Joined()
			if !ok || !bytes.Equal(j.Response, want) || j.Chunks != nil || len(e.Chunks) == 0 || e.Response != nil {
				t.Errorf("Joined: %v %+v, from %+v", ok, j, e)
			}
		})
	}
}

// TestJoinedResponseLeavesOddShapes: what the joiner does not read it
// leaves to DecodeResponse (and a body or a native entry is not a stream).
func TestJoinedResponseLeavesOddShapes(t *testing.T) {
	for _, lines := range []string{
		`{"id":"c","ID":"x","choices":[]}`,                                // binds to id in encoding/json
		`{"id":"c","id":"d","choices":[]}`,                                // given twice
		`{"id":"c","choices":[{"index":0,"delta":{"\u0063ontent":"x"}}]}`, // an escaped name
		`{"id":"c","choices":[{"index":0.5}]}`,
		`{"id":"c","choices":[{"index":0,"delta":{"content":1}}]}`,
		`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":"0"}]}}]}`,
		`{"id":"c","usage":{"prompt_tokens":1},"usage":{"total_tokens":1}}`,
		`[1]`,
	} {
		if b, ok := entryOf(lines).JoinedResponse(); ok {
			t.Errorf("%s joined to %s", lines, b)
		}
	}
	for _, e := range []*Entry{{Response: json.RawMessage(`{}`)}, completedStream(), {}} {
		if b, ok := e.JoinedResponse(); ok {
			t.Errorf("%+v joined to %s", e, b)
		}
	}
}

// FuzzJoinedResponse: for any chunks (one a line), JoinedResponse either
// declines or gives exactly the slow path's body; it never joins what the
// slow path refuses.
func FuzzJoinedResponse(f *testing.F) {
	for _, lines := range joinStreams {
		f.Add(lines)
	}
	f.Add(`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":3,"function":{"name":"f"}},{"index":3,"id":"x","function":{"arguments":"1"}}]},"finish_reason":"stop"}]}`)
	f.Add(`{"id":"c","choices":[{"index":-1,"delta":null,"finish_reason":"stop"},{"index":0,"delta":{"role":null,"content":"a\tb"}}],"created":null,"model":null}`)
	f.Fuzz(func(t *testing.T, lines string) {
		e := entryOf(lines)
		for _, ch := range e.Chunks {
			if !gjson.ValidBytes(ch) {
				return // not an entry Decode returns
			}
		}
		got, ok := e.JoinedResponse()
		if !ok {
			return
		}
		want, err := slowJoin(e)
		if err != nil {
			t.Fatalf("joined %s; the slow path refuses: %v", got, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("joined\n got %s\nwant %s", got, want)
		}
	})
}

// BenchmarkJoinedResponse: a non-streamed hit's body from a stored
// 22-chunk stream, joined from the raw chunks; compare
// BenchmarkJoinedResponseSlow, the typed path it replaces.
func BenchmarkJoinedResponse(b *testing.B) {
	e := entryOf(stream22())
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := e.JoinedResponse(); !ok {
			b.Fatal("not joined")
		}
	}
}

// BenchmarkJoinedResponseSlow: DecodeResponse and openai.Marshal of the
// same stream.
func BenchmarkJoinedResponseSlow(b *testing.B) {
	e := entryOf(stream22())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := slowJoin(e); err != nil {
			b.Fatal(err)
		}
	}
}

// TestJoinerKnowsTheMessageFields: the names a joined message's unknown
// members may not take are the Message type's own (EncodeWithExtra skips
// them); a field added to the type must be added to the joiner too.
func TestJoinerKnowsTheMessageFields(t *testing.T) {
	var names []string
	for f := range reflect.TypeFor[openai.Message]().Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "-" && name != "" {
			names = append(names, name)
		}
	}
	if !slices.Equal(names, messageFields) {
		t.Errorf("openai.Message's members %q, the joiner's %q", names, messageFields)
	}
}

// TestJoinedResponseKeepsLogprobs: a stored stream's log probabilities
// reach a non-streamed hit as the API answers them unstreamed — every
// chunk's tokens in one "content" array, "refusal" null when no chunk had
// one — by both the joiner and the typed accumulator; a choice whose
// chunks had none still has no logprobs member.
func TestJoinedResponseKeepsLogprobs(t *testing.T) {
	e := entryOf(`
{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"logprobs":{"content":[{"token":"Hi","logprob":-0.1,"bytes":[72,105],"top_logprobs":[]}],"refusal":null},"finish_reason":null},{"index":1,"delta":{"content":"x"},"logprobs":null,"finish_reason":null}]}
{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" <there>"},"logprobs":{"content":[ {"token":" <there>", "logprob":-0.25,"bytes":[32],"top_logprobs":[]} ]},"finish_reason":null}]}
{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"},{"index":1,"delta":{},"finish_reason":"stop"}]}`)
	want := `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[` +
		`{"index":0,"message":{"role":"assistant","content":"Hi <there>"},"finish_reason":"stop","logprobs":{"content":[` +
		`{"token":"Hi","logprob":-0.1,"bytes":[72,105],"top_logprobs":[]},{"token":" <there>","logprob":-0.25,"bytes":[32],"top_logprobs":[]}],"refusal":null}},` +
		`{"index":1,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}]}`
	got, ok := e.JoinedResponse()
	if !ok || string(got) != want {
		t.Fatalf("joined (ok %v):\n%s\nwant\n%s", ok, got, want)
	}
	slow, err := slowJoin(e)
	if err != nil || string(slow) != want {
		t.Fatalf("accumulated (err %v):\n%s\nwant\n%s", err, slow, want)
	}
}
