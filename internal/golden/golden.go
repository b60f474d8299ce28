// Package golden compares test output with golden files under a test's
// testdata directory. Running the tests with -update rewrites the files
// instead:
//
//	go test ./internal/provider/gemini -run Golden -update
//
// It is for this repository's own tests; importing it registers the
// -update flag.
package golden

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// update is the -update flag of the golden-file tests.
var update = flag.Bool("update", false, "rewrite golden files under testdata")

// Check compares got with the file testdata/name (relative to the test's
// working directory, its package directory) and reports a difference with
// t.Errorf; a missing file is fatal. With -update it writes got to the file
// instead and reports nothing.
func Check(t testing.TB, name string, got []byte) {
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

// IndentJSON returns b indented by two spaces per level and ending in a
// newline, the form golden JSON files are kept in. Invalid JSON is fatal.
func IndentJSON(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return append(buf.Bytes(), '\n')
}
