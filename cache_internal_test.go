package llmbridge

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/llmbridge/llmbridge/internal/cache/codec"
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
