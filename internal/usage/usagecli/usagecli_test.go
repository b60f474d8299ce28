package usagecli

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
)

func TestListKeyIDs(t *testing.T) {
	var out bytes.Buffer
	long := "sk-0123456789abcdefXYZW"
	if err := listKeyIDs(&out, []string{long, "short"}); err != nil {
		t.Fatal(err)
	}
	want := llmbridge.KeyID(long) + "  ACCESS_API_KEYS #1  …XYZW\n" + llmbridge.KeyID("short") + "  ACCESS_API_KEYS #2  …\n"
	if out.String() != want || strings.Contains(out.String(), "0123456789") {
		t.Fatalf("%q", out.String())
	}
}

// The flags are checked before the configuration is read, and the store
// before it is opened.
func TestMainRefusesBeforeOpening(t *testing.T) {
	loaded := 0
	load := func(dsn string) func() (Config, error) {
		return func() (Config, error) { loaded++; return Config{StoreDSN: dsn}, nil }
	}
	for _, tc := range []struct {
		args []string
		dsn  string
		err  string
	}{
		{[]string{"--format", "xml"}, "", "use table, csv or json"},
		{[]string{"extra"}, "", "unexpected arguments"},
		{[]string{"--from", "yesterday"}, "", "usage: "},
	} {
		if err := Main(tc.args, io.Discard, io.Discard, load(tc.dsn)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %v", tc.args, err)
		}
	}
	if loaded != 0 {
		t.Errorf("the configuration was read %d times for bad flags", loaded)
	}
	if err := Main(nil, io.Discard, io.Discard, load("")); err == nil || !strings.Contains(err.Error(), "usage store is off") {
		t.Errorf("store off: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing.db")
	if err := Main(nil, io.Discard, io.Discard, load(missing)); err == nil || !strings.Contains(err.Error(), "no usage database") {
		t.Errorf("missing database: %v", err)
	}
	if err := Main([]string{"-help"}, io.Discard, io.Discard, load("")); err != nil {
		t.Errorf("help: %v", err)
	}
}
