package llmbridge

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"
)

// What a stream writer gathered reaches the response when it closes (the
// last event, which end leaves unflushed), and nothing written after that
// does: the handler has returned.
func TestStreamWriterCloseHandsOverAndEnds(t *testing.T) {
	rec := httptest.NewRecorder()
	s := newStreamWriter(rec, chatFormat{}, time.Minute, 0, nil)
	if err := s.data([]byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.end("", []byte("[DONE]")); err != nil {
		t.Fatal(err)
	}
	s.close()
	if err := s.data([]byte(`{"late":1}`)); !errors.Is(err, errStreamClosed) {
		t.Fatalf("a write after close: %v", err)
	}
	s.close() // twice is fine
	if got, want := rec.Body.String(), "data: {\"a\":1}\n\ndata: [DONE]\n\n"; got != want {
		t.Fatalf("body %q, want %q", got, want)
	}
}
