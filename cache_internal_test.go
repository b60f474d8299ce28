package llmbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/cache/codec"
	"github.com/llmbridge/llmbridge/internal/openai"
)

// respEvents is a Responses event stream as OpenAI sends it (event
// lines, a type in every event), ending with last.
func respEvents(last string) []byte {
	return []byte("event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\"}}\n\n" +
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"delta\":\"Hi \\\"there\\\"\"}\n\n" +
		last)
}

const completedEvent = "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"usage\":{\"input_tokens\":5,\"output_tokens\":2,\"total_tokens\":7}}}\n\n"

func TestNativeEntryKeepsOnlyCompletedAnswers(t *testing.T) {
	f := responsesFormat{}
	for _, tc := range []struct {
		name   string
		body   []byte
		stream bool
		stored bool
	}{
		{"completed stream", respEvents(completedEvent), true, true},
		{"bytes read past the end are left out", respEvents(completedEvent + "event: extra\ndata: {}\n\n"), true, true},
		{"incomplete (max_output_tokens)", respEvents("event: response.incomplete\ndata: {\"type\":\"response.incomplete\",\"response\":{\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":\"max_output_tokens\"}}}\n\n"), true, false},
		{"failed", respEvents("event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\"}}\n\n"), true, false},
		{"error event", respEvents("event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\"}\n\n"), true, false},
		{"cut before the end", respEvents(""), true, false},
		{"completed body", []byte(`{"id":"resp_1","object":"response","status":"completed","output":[]}`), false, true},
		{"incomplete body", []byte(`{"id":"resp_1","object":"response","status":"incomplete"}`), false, false},
		{"not an object", []byte(`[1]`), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := nativeEntry(f, tc.body, tc.stream)
			if (e != nil) != tc.stored {
				t.Fatalf("stored %v, want %v", e != nil, tc.stored)
			}
			if e == nil {
				return
			}
			if tc.stream && (len(e.Events) != 3 || e.Events[2].Name != "response.completed") {
				t.Fatalf("events %+v", e.Events)
			}
			// Encoded and decoded, it is the same entry.
			e.Stored, e.Provider, e.UpstreamModel = 1700000000000, "openai", "gpt-4o"
			v, err := e.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(v) {
				t.Fatalf("encoded entry is not JSON: %s", v)
			}
			got, err := codec.Decode(v)
			if err != nil {
				t.Fatalf("%v: %s", err, v)
			}
			if !reflect.DeepEqual(got, e) {
				t.Errorf("round trip\n got %+v\nwant %+v", got, e)
			}
		})
	}
}

// BenchmarkCacheKey: the key of a typical request (cacheKey: the
// canonical form and its hash).
func BenchmarkCacheKey(b *testing.B) {
	c := &call{f: chatFormat{}, input: input{body: benchBody, env: envelope{model: "openai/gpt-4o-mini"}}}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		c.cacheKey(false)
	}
}

// missCache is a local cache that never has an answer and keeps nothing:
// the cache stage's own cost, without a backend's.
type missCache struct{}

func (missCache) Get(context.Context, CacheKey) ([]byte, bool, error)        { return nil, false, nil }
func (missCache) Set(context.Context, CacheKey, []byte, time.Duration) error { return nil }
func (missCache) Local() bool                                                { return true }

// relayedOutput is an output whose pass-through relay feeds the call's
// tap the events of a 22-chunk stream, as relayRaw does, and writes
// nothing.
type relayedOutput struct {
	output
	events       [][]byte
	infos        []openai.ChunkInfo
	heads, rests [][]byte // what the relay's inspector's Short said
}

func (o *relayedOutput) ticketHeaders(*call) {}

func (o *relayedOutput) setHeader(string, string) {}

func (o *relayedOutput) native(c *call, _ *http.Response) {
	if c.tap == nil {
		return
	}
	c.tap.startStream()
	for i, ev := range o.events {
		c.tap.event(ev, &o.infos[i], o.heads[i], o.rests[i])
	}
	c.tap.done = true
}

// relayedStream is the output relaying events (one a line) as relayRaw
// reads them: each with what its inspector said.
func relayedStream(lines string) *relayedOutput {
	o := &relayedOutput{}
	var ci openai.ChunkInspector
	for ev := range strings.SplitSeq(lines, "\n") {
		o.events = append(o.events, []byte(ev))
		o.infos = append(o.infos, ci.Inspect([]byte(ev), nil))
		h, r := ci.Short()
		o.heads, o.rests = append(o.heads, bytes.Clone(h)), append(o.rests, bytes.Clone(r))
	}
	return o
}

// stream22Lines is BenchmarkCacheMiss's stream: 22 chunks as OpenAI
// sends them, each line beginning with prefix.
func stream22Lines(prefix string) string {
	head := prefix + `{"id":"chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl","object":"chat.completion.chunk","created":1782955817,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_d0469e1700","choices":`
	events := []string{head + `[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"C63r"}`}
	for i := range 19 {
		events = append(events, fmt.Sprintf(`%s[{"index":0,"delta":{"content":" word%d"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"qfQVOwfh"}`, head, i))
	}
	events = append(events, head+`[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null,"obfuscation":"VskH"}`,
		head+`[],"usage":{"prompt_tokens":53,"completion_tokens":19,"total_tokens":72}}`)
	return strings.Join(events, "\n")
}

// keptValue is a cache that keeps the last value stored and has no
// answer.
type keptValue struct {
	missCache
	v *[]byte
}

func (k keptValue) Set(_ context.Context, _ CacheKey, v []byte, _ time.Duration) error {
	*k.v = v
	return nil
}

// TestCacheTapStoresTheRelayedChunks: what the tap stores of a stream
// decodes to its chunks as relayed (less the space before one, which
// replay never kept) — with the chunks after the first cut short when
// they repeat its head, whole when the head has a space before it.
func TestCacheTapStoresTheRelayedChunks(t *testing.T) {
	var v []byte
	br, err := New(WithCache(keptValue{v: &v}, CachePolicy{}))
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	for _, tc := range []struct {
		prefix string
		short  bool
	}{{"", true}, {" ", false}, {"\t ", false}} {
		v = nil
		o := relayedStream(stream22Lines(tc.prefix))
		c := &call{b: br, f: chatFormat{}, parent: context.Background(), input: input{body: []byte(`{"model":"m","temperature":0,"stream":true}`), env: envelope{model: "openai/gpt-4o-mini", stream: true}}}
		var out output = o
		if c.cached(&out) {
			t.Fatal("a hit")
		}
		out.native(c, &http.Response{})
		e, err := codec.Decode(v)
		if err != nil {
			t.Fatalf("prefix %q: %v\n%s", tc.prefix, err, v)
		}
		if short := bytes.Contains(v, []byte(`"short":"0111`)); short != tc.short || len(e.Chunks) != len(o.events) {
			t.Fatalf("prefix %q: cut short %v, %d chunks:\n%s", tc.prefix, short, len(e.Chunks), v)
		}
		for i, ev := range o.events {
			if !bytes.Equal(e.Chunks[i], bytes.TrimLeft(ev, " \t")) {
				t.Errorf("prefix %q: chunk %d\n got %s\nwant %s", tc.prefix, i, e.Chunks[i], ev)
			}
		}
	}
}

// BenchmarkCacheStageMiss: the cache stage's own work on a streamed
// request that misses and is stored (the lookup's key, the policy
// checks, the recorder taking the relayed events, the stored value),
// without HTTP, the relay or a backend.
func BenchmarkCacheStageMiss(b *testing.B) {
	br, err := New(WithCache(missCache{}, CachePolicy{}))
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	o := relayedStream(stream22Lines(""))
	body := []byte(strings.Replace(string(benchBody), `"temperature":0.2`, `"temperature":0`, 1))
	h := http.Header{"Content-Type": {"application/json"}}
	ctx := context.Background()
	env := chatFormat{}.parse(body) // as the handler has it: with what the parse read of the sampling
	if env.bad != nil || !env.stream {
		b.Fatalf("the body: %v", env.bad)
	}
	b.ReportAllocs()
	for b.Loop() {
		c := &call{b: br, f: chatFormat{}, req: Request{Header: h}, parent: ctx, input: input{body: body, env: env}}
		var out output = o
		if c.cached(&out) {
			b.Fatal("a hit")
		}
		out.native(c, &http.Response{})
	}
}

// hitCache answers every key with its value.
type hitCache struct {
	missCache
	v []byte
}

func (h hitCache) Get(context.Context, CacheKey) ([]byte, bool, error) { return h.v, true, nil }

// TestCacheLookupRefusesOversizeValue: a value longer than the policy's
// MaxValueBytes, which the bridge never stores, is a miss, not decoded
// (a shared backend's value may be anyone's).
func TestCacheLookupRefusesOversizeValue(t *testing.T) {
	e := &codec.Entry{Response: []byte(`{"id":"x","choices":[]}`), Stored: time.Now().UnixMilli()}
	v, _ := e.Encode()
	for _, tc := range []struct {
		pad  int
		want bool
	}{{0, true}, {1024 - len(v), true}, {1025 - len(v), false}} {
		padded := append(bytes.Repeat([]byte(" "), tc.pad), v...)
		br, err := New(WithCache(hitCache{v: padded}, CachePolicy{MaxValueBytes: 1024}))
		if err != nil {
			t.Fatal(err)
		}
		c := &call{b: br, f: chatFormat{}, parent: context.Background()}
		rc := br.cfg.cache
		if _, _, ok := c.lookup(rc, CacheKey{}, -1); ok != tc.want {
			t.Errorf("a value of %d bytes (bound 1024): hit %v", len(padded), ok)
		}
		br.Close()
	}
}

// TestSamplingOfTheChatParse holds what the chat format's parse reads of
// "n" and "temperature" to what the cache read from the body before it
// did (bodySampling), so that deterministic answers the same either way.
func TestSamplingOfTheChatParse(t *testing.T) {
	for _, tail := range []string{
		``,
		`,"n":1`,
		`,"n":2,"temperature":0`,
		`,"temperature":0.7`,
		`,"temperature":0,"n":1`,
		`,"temperature":-0.0`,
		`,"n":"2","temperature":"0"`,
		`,"temperature":null`,
		`,"n":1e0,"temperature":1E-3`,
		`,"n":9007199254740993,"temperature":0`,
		`,"n":1e19,"temperature":0`,
		`,"n":-1e19`,
	} {
		body := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]` + tail + `}`)
		got := chatFormat{}.parse(body).sampling
		if !got.read {
			t.Fatalf("%s: the parse did not read them", tail)
		}
		got.read = false
		if want := bodySampling(body); got != want {
			t.Errorf("%s: parse %+v, body %+v", tail, got, want)
		}
	}
}
