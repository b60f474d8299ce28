package bedrock_test

import (
	"bytes"
	"hash/crc32"
	"io"
	"net/http"
	"testing"

	"github.com/llmbridge/llmbridge/internal/provider/bedrock"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// frames is an event stream of the frames given as kind, name, payload
// triples.
func frames(parts ...string) []byte {
	var b []byte
	for i := 0; i+2 < len(parts); i += 3 {
		b = append(b, testupstream.EncodeBedrockFrame(parts[i], parts[i+1], []byte(parts[i+2]))...)
	}
	return b
}

// FuzzDecodeStream feeds arbitrary bytes to the ConverseStream decoder
// as an upstream body: it must end every stream with chunks or an error,
// never panic, hang or read a frame larger than the format allows. Seeds
// are real frames (and testdata/fuzz).
func FuzzDecodeStream(f *testing.F) {
	ok := frames("event", "messageStart", `{"role":"assistant","p":"abc"}`,
		"event", "contentBlockStart", `{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"t1","name":"f"}}}`,
		"event", "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"toolUse":{"input":"{\"a\":1}"}}}`,
		"event", "contentBlockStop", `{"contentBlockIndex":0}`,
		"event", "contentBlockDelta", `{"contentBlockIndex":1,"delta":{"text":"hi"}}`,
		"event", "contentBlockDelta", `{"contentBlockIndex":2,"delta":{"reasoningContent":{"signature":"s"}}}`,
		"event", "messageStop", `{"stopReason":"tool_use"}`,
		"event", "metadata", `{"usage":{"inputTokens":1,"outputTokens":2,"cacheReadInputTokens":3}}`)
	f.Add(ok)
	f.Add(ok[:len(ok)/2])
	f.Add(frames("exception", "throttlingException", `{"message":"slow down"}`))
	f.Add(frames("error", "x", ``))
	f.Add(frames("event", "contentBlockDelta", `not json`))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0})
	p := bedrock.New(bedrock.Config{Name: "bedrock", Region: "us-east-1", APIKey: "k"})
	f.Fuzz(func(t *testing.T, body []byte) {
		resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}
		n := 0
		for ch, err := range p.DecodeStream(resp) {
			if err != nil {
				break
			}
			if ch == nil {
				t.Fatal("nil chunk without an error")
			}
			if n++; n > len(body) {
				t.Fatalf("%d chunks from %d bytes", n, len(body))
			}
		}
	})
}

// A frame whose prelude claims more than the format allows is refused
// before anything is read into memory; a CRC-broken one too.
func TestFrameReaderBounds(t *testing.T) {
	big := testupstream.EncodeBedrockFrame("event", "metadata", bytes.Repeat([]byte("a"), 100))
	for name, body := range map[string][]byte{
		"over the limit": append([]byte{0x02, 0, 0, 0, 0, 0, 0, 0}, crcOf(0x02000000)...),
		"broken crc":     append(append([]byte(nil), big[:8]...), 0, 0, 0, 0),
	} {
		_, err := bedrock.NewFrameReader(bytes.NewReader(body)).Next()
		if err == nil || err == io.EOF {
			t.Errorf("%s: %v", name, err)
		}
	}
	m, err := bedrock.NewFrameReader(bytes.NewReader(big)).Next()
	if err != nil || len(m.Payload) != 100 {
		t.Fatalf("%v %d", err, len(m.Payload))
	}
}

// crcOf is the prelude CRC of a prelude with total length n and no
// headers.
func crcOf(n uint32) []byte {
	pre := []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), 0, 0, 0, 0}
	c := crc32.ChecksumIEEE(pre)
	return []byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)}
}
