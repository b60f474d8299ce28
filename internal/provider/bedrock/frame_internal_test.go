package bedrock

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/llmbridge/llmbridge/internal/jsontest"
	"github.com/llmbridge/llmbridge/internal/openai"
)

// frameOf is a message with the given header bytes and payload, its
// prelude and both CRCs right, so that what is tried is the headers.
func frameOf(headers, payload []byte) []byte {
	total := preludeLen + len(headers) + len(payload) + 4
	b := binary.BigEndian.AppendUint32(nil, uint32(total))
	b = binary.BigEndian.AppendUint32(b, uint32(len(headers)))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	b = append(append(b, headers...), payload...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// sdkHeader is the SDK's reading of a string header, "" when absent or
// of another type (the decoder's own header function did this).
func sdkHeader(m *eventstream.Message, name string) string {
	if v, ok := m.Headers.Get(name).(eventstream.StringValue); ok {
		return string(v)
	}
	return ""
}

// sameFrame fails t unless parseFrame and the SDK's decoder agree on the
// message b: both refuse it, or both read the same headers and payload.
func sameFrame(t *testing.T, b []byte) {
	t.Helper()
	got, err := parseFrame(b)
	want, werr := eventstream.NewDecoder().Decode(bytes.NewReader(b), nil)
	if (err == nil) != (werr == nil) {
		t.Fatalf("% x: parseFrame error %v, the SDK's %v", b, err, werr)
	}
	if err != nil {
		return
	}
	for name, v := range map[string]string{":message-type": got.MessageType, ":event-type": got.EventType, ":exception-type": got.ExceptionType,
		":error-code": got.ErrorCode, ":error-message": got.ErrorMessage} {
		if w := sdkHeader(&want, name); v != w {
			t.Fatalf("% x: %s %q, the SDK's %q", b, name, v, w)
		}
	}
	if !bytes.Equal(got.Payload, want.Payload) {
		t.Fatalf("% x: payload %q, the SDK's %q", b, got.Payload, want.Payload)
	}
}

// encodedHeaders are header sections as the SDK encodes them: every value
// type, the names the decoder reads given twice or with another type.
func encodedHeaders(t testing.TB) [][]byte {
	var out [][]byte
	for _, hs := range []eventstream.Headers{
		{{Name: ":message-type", Value: eventstream.StringValue("event")}, {Name: ":event-type", Value: eventstream.StringValue("contentBlockDelta")},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")}},
		{{Name: ":message-type", Value: eventstream.StringValue("exception")}, {Name: ":exception-type", Value: eventstream.StringValue("throttlingException")}},
		{{Name: ":message-type", Value: eventstream.StringValue("error")}, {Name: ":error-code", Value: eventstream.StringValue("InternalFailure")},
			{Name: ":error-message", Value: eventstream.StringValue("")}},
		{{Name: "t", Value: eventstream.BoolValue(true)}, {Name: "f", Value: eventstream.BoolValue(false)}, {Name: "i8", Value: eventstream.Int8Value(-1)},
			{Name: "i16", Value: eventstream.Int16Value(300)}, {Name: "i32", Value: eventstream.Int32Value(1 << 20)}, {Name: "i64", Value: eventstream.Int64Value(1 << 40)},
			{Name: "b", Value: eventstream.BytesValue{1, 2, 3}}, {Name: "ts", Value: eventstream.TimestampValue(time.UnixMilli(1782955817000))},
			{Name: "u", Value: eventstream.UUIDValue{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}, {Name: ":event-type", Value: eventstream.StringValue("x")}},
		{{Name: ":event-type", Value: eventstream.Int32Value(7)}},
		{{Name: "", Value: eventstream.StringValue("no name")}},
	} {
		var buf bytes.Buffer
		if err := eventstream.NewEncoder().Encode(&buf, eventstream.Message{Headers: hs, Payload: []byte(`{"a":1}`)}); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		out = append(out, b[preludeLen:preludeLen+int(binary.BigEndian.Uint32(b[4:8]))])
	}
	return out
}

func TestParseFrameIsTheSDKs(t *testing.T) {
	hs := encodedHeaders(t)
	for _, h := range hs {
		sameFrame(t, frameOf(h, []byte(`{"a":1}`)))
		sameFrame(t, frameOf(h, nil))
		for cut := range h { // every truncation of the headers
			sameFrame(t, frameOf(h[:cut], []byte("p")))
		}
	}
	// A later header of a name replaces the earlier, a non-string one too.
	twice := append(append([]byte(nil), hs[0]...), hs[4]...)
	sameFrame(t, frameOf(twice, nil))
	m, err := parseFrame(frameOf(twice, nil))
	if err != nil || m.EventType != "" || m.MessageType != "event" {
		t.Fatalf("%+v %v", m, err)
	}
	for _, bad := range [][]byte{{1, 'a', 10}, {0, 7, 0}, {0, 6, 0, 5, 'x'}} { // an unknown type, cut values
		sameFrame(t, frameOf(bad, nil))
	}
	broken := frameOf(hs[0], []byte("x"))
	broken[len(broken)-1] ^= 1
	sameFrame(t, broken)
}

// FuzzParseFrame: whatever the header bytes, parseFrame reads a message
// as the SDK's decoder does.
func FuzzParseFrame(f *testing.F) {
	for _, h := range encodedHeaders(f) {
		f.Add(h, []byte(`{"contentBlockIndex":0,"delta":{"text":"hi"}}`))
	}
	f.Fuzz(func(t *testing.T, headers, payload []byte) { sameFrame(t, frameOf(headers, payload)) })
}

// TestParseFrameAllocations: reading a message allocates nothing.
func TestParseFrameAllocations(t *testing.T) {
	b := frameOf(encodedHeaders(t)[0], []byte(`{"a":1}`))
	if n := testing.AllocsPerRun(100, func() { _, _ = parseFrame(b) }); n != 0 {
		t.Errorf("%v allocations a message", n)
	}
}

// eventSeeds are ConverseStream event payloads, and shapes that must take
// encoding/json's path.
var eventSeeds = []string{
	`{"role":"assistant","p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123"}`,
	`{"contentBlockIndex":0,"delta":{"text":"Hello \"there\"\n\u00e9"},"p":"abc"}`,
	`{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"a\":1}"}},"p":"abc"}`,
	`{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"t1","name":"f"}},"p":"abc"}`,
	`{"contentBlockIndex":2,"delta":{"reasoningContent":{"text":"hm"}}}`, `{"contentBlockIndex":2,"delta":{"reasoningContent":{"signature":"s"}}}`,
	`{"contentBlockIndex":0}`, `{"stopReason":"end_turn","additionalModelResponseFields":null}`,
	`{"usage":{"inputTokens":10,"outputTokens":200,"totalTokens":210},"metrics":{"latencyMs":900}}`, `{"usage":null}`,
	`{"usage":{"inputTokens":1,"outputTokens":2,"cacheReadInputTokens":3,"cacheWriteInputTokens":4,"totalTokens":10}}`,
	`{"usage":{"inputTokens":null}}`, `{"usage":{"InputTokens":1}}`, `{"usage":{"inputTokens":1.5}}`, `{"usage":[]}`,
	`{"message":"slow down"}`, `{"role":null,"contentBlockIndex":null,"stopReason":null,"message":null}`,
	`{"delta":null}`, `{"start":null}`, `{"delta":{"text":null}}`, `{"delta":{"toolUse":null}}`, `{"delta":{"toolUse":{"input":null}}}`,
	`{"delta":{"text":""}}`, `{"delta":{"toolUse":{"input":"","Input":"x"}}}`, `{"delta":{"Text":"x"}}`, `{"ROLE":"x"}`, `{"role":"a","role":"b"}`,
	`{"contentBlockIndex":1.5}`, `{"contentBlockIndex":"1"}`, `{"delta":{"text":7}}`, `{"delta":[]}`, `[]`, `null`, `{}`, `{"role":`, "{\"role\":\"\xff\"}",
}

// sameEvent fails t unless decodeEvent and json.Unmarshal agree on data.
func sameEvent(t *testing.T, data []byte) {
	t.Helper()
	jsontest.SameAsUnmarshal(t, "decodeEvent", data, func(b []byte, e *event) error { return decodeEvent(b, e, new(eventMemory)) })
}

func TestDecodeEventIsJSONUnmarshal(t *testing.T) {
	for _, s := range eventSeeds {
		sameEvent(t, []byte(s))
	}
	for _, s := range append(eventSeeds[:3:3], eventSeeds[8]) {
		took := false
		openai.WithValue([]byte(s), func(root openai.Value) { took = fastEvent(root, new(event), new(eventMemory)) })
		if !took {
			t.Errorf("not read by hand: %s", s)
		}
	}
	// The strings read are copies: the payload is the reader's buffer.
	data := []byte(eventSeeds[1])
	var e event
	if err := decodeEvent(data, &e, new(eventMemory)); err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'x'
	}
	if *e.Delta.Text != "Hello \"there\"\n\u00e9" {
		t.Fatalf("the text changed with the payload: %q", *e.Delta.Text)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { sameEvent(t, data) })
}

// TestEventReaderNames: the readers' name lists are their types' JSON
// names, so a member a case-variant away from one (which encoding/json
// binds) is left to encoding/json.
func TestEventReaderNames(t *testing.T) {
	for _, c := range []struct {
		names []string
		typ   reflect.Type
	}{{eventNames, reflect.TypeFor[event]()}, {deltaNames, reflect.TypeOf(event{}.Delta)}, {toolInputNames, reflect.TypeFor[toolInput]()},
		{usageNames, reflect.TypeFor[usageJSON]()}} {
		if got, want := slices.Sorted(slices.Values(c.names)), openai.JSONFieldsOf(c.typ).Names(); !slices.Equal(got, want) {
			t.Errorf("reader names %v, %v's %v", got, c.typ, want)
		}
	}
}
