package usagecli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/usage"
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

// The table names where the prices in force come from and their age; CSV
// and JSON stay machine-readable.
func TestTableNamesPriceSources(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "u.db")
	st, err := usage.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	prices := usage.DefaultPrices().Merge(usage.Prices{"openai/gpt-4o": {Input: 3, Output: 12}}.MarkSource("https://prices.example/l.json", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)))
	load := func() (Config, error) { return Config{StoreDSN: dsn, Prices: prices}, nil }
	var out bytes.Buffer
	if err := Main([]string{"--from", "2026-11-01", "--to", "2026-11-30"}, &out, io.Discard, load); err != nil {
		t.Fatal(err)
	}
	n := len(usage.DefaultPrices()) - 1
	want := fmt.Sprintf("Prices in force: built-in (%d models, as of 2025-12-09); https://prices.example/l.json (1 models, as of 2026-11-20).\n", n)
	if !strings.HasSuffix(out.String(), want) {
		t.Errorf("table:\n%s\nwant it to end with %q", out.String(), want)
	}
	out.Reset()
	if err := Main([]string{"--from", "2026-11-01", "--to", "2026-11-30", "--format", "json"}, &out, io.Discard, load); err != nil || strings.Contains(out.String(), "Prices in force") {
		t.Errorf("json: %v %s", err, out.String())
	}
}
