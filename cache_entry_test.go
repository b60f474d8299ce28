package llmbridge

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
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
			v, err := e.encode()
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(v) {
				t.Fatalf("encoded entry is not JSON: %s", v)
			}
			got, err := decodeCacheEntry(v)
			if err != nil {
				t.Fatalf("%v: %s", err, v)
			}
			if !reflect.DeepEqual(got, e) {
				t.Errorf("round trip\n got %+v\nwant %+v", got, e)
			}
		})
	}
}

func TestDecodeCacheEntryRefusesMixedOrForeign(t *testing.T) {
	for _, v := range []string{
		`{"v":1,"stored":1,"response":{"id":"x"},"chunks":[{}]}`,
		`{"v":1,"stored":1,"native":{"id":"x"}}`,                        // native without a format
		`{"v":1,"stored":1,"format":"responses","response":{"id":"x"}}`, // format on a canonical answer
		`{"v":1,"stored":1,"format":"responses","events":[["a"]]}`,      // an event without data
		`{"v":1,"stored":1,"format":"responses","native":{},"events":[["a",{}]]}`,
		`{"v":2,"stored":1,"response":{}}`,
		`{"v":1,"stored":1}`,
		`not json`,
	} {
		if e, err := decodeCacheEntry([]byte(v)); err == nil {
			t.Errorf("%s decoded to %+v", v, e)
		}
	}
}

// FuzzDecodeCacheEntry: any value a backend hands back decodes or is
// refused, never panics; what decodes encodes to a value that decodes to
// the same entry.
func FuzzDecodeCacheEntry(f *testing.F) {
	e := nativeEntry(responsesFormat{}, respEvents(completedEvent), true)
	v, _ := e.encode()
	f.Add(v)
	f.Add([]byte(`{"v":1,"stored":5,"provider":"openai","upstream_model":"m","chunks":[{"choices":[]},{"a":1}]}`))
	f.Add([]byte(`{"v":1,"stored":5,"response":{"choices":[{"finish_reason":"stop"}]}}`))
	f.Add([]byte(`{"v":1,"stored":5,"format":"responses","native":{"status":"completed"}}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		e, err := decodeCacheEntry(v)
		if err != nil {
			return
		}
		_ = e.clean()
		_ = e.rawUsage()
		again, err := e.encode()
		if err != nil {
			t.Fatal(err)
		}
		e2, err := decodeCacheEntry(again)
		if err != nil {
			t.Fatalf("re-encoded entry does not decode: %v\n%s\nfrom %s", err, again, v)
		}
		if !reflect.DeepEqual(normalize(e), normalize(e2)) {
			t.Fatalf("round trip\n got %+v\nwant %+v", e2, e)
		}
	})
}

// normalize compacts an entry's raw members, which decode as they were
// written (whitespace included) and encode as they are.
func normalize(e *cacheEntry) *cacheEntry {
	c := *e
	compact := func(b []byte) []byte {
		var buf bytes.Buffer
		if json.Compact(&buf, b) != nil {
			return b
		}
		return buf.Bytes()
	}
	if c.Response != nil {
		c.Response = compact(c.Response)
	}
	if c.Native != nil {
		c.Native = compact(c.Native)
	}
	c.Chunks = nil
	for _, ch := range e.Chunks {
		c.Chunks = append(c.Chunks, compact(ch))
	}
	c.Events = nil
	for _, ev := range e.Events {
		c.Events = append(c.Events, nativeEvent{ev.Name, compact(ev.Data)})
	}
	return &c
}
