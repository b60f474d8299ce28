package admin

import (
	"bytes"
	"context"
	"testing"

	"github.com/llmbridge/llmbridge/internal/golden"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// TestReportTable pins the text table of the usage command (golden
// file); the admin API tests pin its JSON and CSV.
func TestReportTable(t *testing.T) {
	rep, err := seeded(t).Report(context.Background(), usage.Query{From: "2026-11-23", To: "2026-11-24", GroupBy: []string{"model", "key"}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteReportTable(&b, rep); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "report.golden.txt", b.Bytes())
}
