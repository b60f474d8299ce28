package providertest

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// update is the -update flag of the adapters' golden-file tests.
var update = flag.Bool("update", false, "rewrite golden files under testdata")

// Golden compares got with testdata/name, or rewrites the file when the
// test runs with -update.
func Golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// IndentJSON pretty-prints JSON for a golden file.
func IndentJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return append(buf.Bytes(), '\n')
}

// CountingBody is a response body that counts its Close calls.
type CountingBody struct {
	io.Reader
	closes atomic.Int32
}

// NewCountingBody wraps r.
func NewCountingBody(r io.Reader) *CountingBody { return &CountingBody{Reader: r} }

// Close counts the call.
func (b *CountingBody) Close() error { b.closes.Add(1); return nil }

// Closes returns how many times Close was called.
func (b *CountingBody) Closes() int { return int(b.closes.Load()) }
