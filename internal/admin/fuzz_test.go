package admin

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/llmbridge/llmbridge/internal/usage"
)

// FuzzAdminQuery sends arbitrary query strings to the admin API over a
// real store: every answer is a report (200) or an OpenAI-shaped 400,
// never a 500 (which would mean input reached SQL) or a panic.
func FuzzAdminQuery(f *testing.F) {
	for _, s := range []string{
		"from=2026-11-23&to=2026-11-24&group_by=model,key", "group_by=day,provider&format=csv", "format=json",
		"from=2026-02-30", "group_by=model;drop", "group_by=none", "limit=5&before=019ab", "group_by=,", "from=&to=",
		"to=2026-11-24&group_by=key,key", "group_by=%00", "before=zz",
	} {
		f.Add(s)
	}
	s := seeded(f)
	a := NewAPI(s, adminKey)
	f.Fuzz(func(t *testing.T, query string) {
		for _, path := range []string{"/admin/api/usage", "/admin/api/requests"} {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.URL.Path, req.URL.RawQuery = path, query
			req.Header.Set("Authorization", "Bearer "+adminKey)
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, req)
			body := rec.Body.String()
			switch rec.Code {
			case 200:
				if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && !json.Valid([]byte(body)) {
					t.Fatalf("%s?%s: invalid JSON %s", path, query, body)
				}
			case 400:
				var e struct {
					Error struct{ Message, Code string }
				}
				if json.Unmarshal([]byte(body), &e) != nil || e.Error.Message == "" || e.Error.Code != "invalid_query" {
					t.Fatalf("%s?%s: 400 body %s", path, query, body)
				}
			default:
				t.Fatalf("%s?%s: status %d %s", path, query, rec.Code, body)
			}
		}
	})
}

// FuzzReportCSV writes arbitrary model and key names into a CSV report
// (seeded with the probe's injection strings): no text cell a
// spreadsheet reads back starts a formula, the names survive apart from
// the added quote, and the number columns stay numbers.
func FuzzReportCSV(f *testing.F) {
	for _, s := range injected {
		f.Add(s, "key-a")
	}
	f.Add("gpt-4o", "=1+1")
	f.Fuzz(func(t *testing.T, model, key string) {
		rep := &usage.Report{GroupBy: []string{"model", "key"}, Rows: []usage.ReportRow{{Group: []string{model, key},
			Totals: usage.Totals{Requests: 3, PromptTokens: 10}}}}
		var out bytes.Buffer
		if err := WriteReportCSV(&out, rep); err != nil {
			t.Fatal(err)
		}
		records, err := csv.NewReader(&out).ReadAll()
		if err != nil || len(records) != 2 {
			t.Fatalf("%q %q: %v, %d records", model, key, err, len(records))
		}
		row := records[1]
		for i, in := range []string{model, key} {
			if c := row[i]; c != "" && strings.IndexByte("=+-@\t\r\n", c[0]) >= 0 {
				t.Fatalf("text cell %q would be a formula", c)
			}
			// encoding/csv reads \r\n inside a quoted field back as \n.
			if c := strings.TrimPrefix(row[i], "'"); utf8.ValidString(in) && !strings.Contains(in, "\r") && c != in && row[i] != in {
				t.Fatalf("cell %q, want %q", row[i], in)
			}
		}
		if row[2] != "3" || row[4] != "10" {
			t.Fatalf("numbers %q", row[2:])
		}
	})
}
