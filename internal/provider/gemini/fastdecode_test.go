package gemini

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// eventSeeds are the events of the recorded streams and shapes that must
// take encoding/json's path.
func eventSeeds(t testing.TB) [][]byte {
	var out [][]byte
	files, _ := filepath.Glob("testdata/stream_*.sse")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			if d, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
				out = append(out, d)
			}
		}
	}
	for _, s := range []string{
		`{"candidates":[{"content":{"parts":[{"text":"a\nb \"q\" \u00e9"}],"role":"model"},"index":0}]}`,
		`{"candidates":[{"content":{"parts":[{"text":"t","thought":true},{"text":"x","thoughtSignature":"c2ln"}]},"finishReason":"STOP","safetyRatings":[{"category":"X"}]}],"usageMetadata":{"promptTokenCount":1,"promptTokensDetails":[{"modality":"TEXT","tokenCount":1}]}}`,
		`{"Candidates":[]}`, `{"candidates":[{"Content":{}}]}`, `{"candidates":[{"content":{"Parts":[]}}]}`,
		`{"candidates":null}`, `{"candidates":[],"candidates":[{"index":1}]}`, `{"candidates":[{"index":1.5}]}`,
		`{"candidates":[{"index":"1"}]}`, `{"usageMetadata":{"totalTokenCount":99999999999999999999}}`,
		`{"promptFeedback":{"blockReason":"SAFETY"}}`, `{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]}}]}`,
		`{"candidates":[{"content":{"parts":[{"thought":"yes"}]}}]}`, `{"modelVersion":7}`, `[]`, `{}`, `{"responseId":"\ud800"}`,
		`{"candidates":[{"content":{"parts":[]},"finishReason":"MAX_TOKENS"}],"modelVersion":"m","responseId":"r"}`,
		`{"candidateſ":[]}`, `{"ResponseId":"r"}`, `{"candidates":[1]}`, `{"candidates":[{"content":[]}]}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

func sameEvent(t *testing.T, data []byte) {
	t.Helper()
	var fast, slow response
	ferr := decodeEvent(data, &fast, nil)
	serr := json.Unmarshal(data, &slow)
	if (ferr == nil) != (serr == nil) {
		t.Fatalf("%q: decodeEvent error %v, json.Unmarshal error %v", data, ferr, serr)
	}
	if ferr == nil && !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%q:\ndecodeEvent    %+v\njson.Unmarshal %+v", data, fast, slow)
	}
}

func TestDecodeEventIsJSONUnmarshal(t *testing.T) {
	seeds := eventSeeds(t)
	if len(seeds) < 30 {
		t.Fatalf("%d seeds", len(seeds))
	}
	for _, s := range seeds {
		sameEvent(t, s)
	}
	var g response
	if !fastEvent(seeds[0], &g, nil) {
		t.Fatalf("a text event of the recorded stream fell back to encoding/json: %s", seeds[0])
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range eventSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { sameEvent(t, data) })
}

// BenchmarkDecodeEvent: one text event as Gemini streams it.
func BenchmarkDecodeEvent(b *testing.B) {
	data := eventSeeds(b)[0]
	b.Run("decodeEvent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var g response
			if err := decodeEvent(data, &g, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var g response
			if err := json.Unmarshal(data, &g); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// normal is g with empty arrays as nil, for comparing a decode into a
// reused response (whose arrays are kept) with a fresh one.
func normal(g response) response {
	if len(g.Candidates) == 0 {
		g.Candidates = nil
	}
	g.Candidates = append([]candidate(nil), g.Candidates...)
	for i := range g.Candidates {
		if c := &g.Candidates[i].Content; len(c.Parts) == 0 {
			c.Parts = nil
		}
	}
	return g
}

// FuzzDecodeEventReused: an event decoded into the response and usage
// room of the one before it, as a stream decodes, reads as it does into
// fresh ones.
func FuzzDecodeEventReused(f *testing.F) {
	seeds := eventSeeds(f)
	for i := range seeds {
		f.Add(seeds[i], seeds[(i+1)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		var g response
		var room usageMetadata
		_ = decodeEvent(first, &g, &room)
		g = response{Candidates: g.Candidates[:0]}
		err := decodeEvent(second, &g, &room)
		var fresh response
		ferr := decodeEvent(second, &fresh, nil)
		if (err == nil) != (ferr == nil) {
			t.Fatalf("%q after %q: error %v, fresh %v", second, first, err, ferr)
		}
		if err == nil && !reflect.DeepEqual(normal(g), normal(fresh)) {
			t.Fatalf("%q after %q:\nreused %+v\nfresh  %+v", second, first, normal(g), normal(fresh))
		}
	})
}
