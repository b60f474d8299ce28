package admin

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/llmbridge/llmbridge/internal/usage"
)

// columnName is the name of a group's column in reports: "key" is shown
// as key_id (a fingerprint, never the key).
func columnName(group string) string {
	if group == "key" {
		return "key_id"
	}
	return group
}

// numberColumns are a report row's sums, in output order: cache_hits
// (requests answered from the response cache, which cost 0) and
// saved_usd (what they would have cost) come last.
var numberColumns = []string{"requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens",
	"reasoning_tokens", "cache_write_tokens", "cost_usd", "unpriced_requests", "cache_hits", "saved_usd"}

// numbers returns t's sums in numberColumns order; an unpriced cost is "".
// saved_usd is always a number (0 without hits, or when no hit's model
// has a price).
func numbers(t *usage.Totals) []string {
	cost := ""
	if c := t.Cost(); c != nil {
		cost = formatUSD(*c)
	}
	return []string{i64(t.Requests), i64(t.Errors), i64(t.PromptTokens), i64(t.CompletionTokens), i64(t.CachedTokens),
		i64(t.ReasoningTokens), i64(t.CacheWriteTokens), cost, i64(t.Unpriced), i64(t.CacheHits), formatUSD(t.SavedUSD)}
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

// formatUSD writes a cost without exponent and without trailing zeros.
func formatUSD(v float64) string { return strconv.FormatFloat(usage.RoundUSD(v), 'f', -1, 64) }

// ReportJSON returns the report's JSON, as the admin API and the usage
// command write it: {"from","to","group_by","rows":[…],"totals":{…}},
// each row with its group fields (in group_by order) before its sums;
// cost_usd is null when nothing in the row was priced; cache_hits and
// saved_usd count the response cache's hits and what they saved.
func ReportJSON(r *usage.Report) []byte {
	var b strings.Builder
	b.WriteString(`{"from":`)
	writeJSONString(&b, r.From)
	b.WriteString(`,"to":`)
	writeJSONString(&b, r.To)
	b.WriteString(`,"group_by":[`)
	for i, g := range r.GroupBy {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, g)
	}
	b.WriteString(`],"rows":[`)
	for i := range r.Rows {
		if i > 0 {
			b.WriteByte(',')
		}
		writeRow(&b, r, &r.Rows[i], true)
	}
	b.WriteString(`],"totals":`)
	writeRow(&b, r, &r.Totals, false)
	b.WriteByte('}')
	return []byte(b.String())
}

// writeRow writes one row of r as a JSON object, with its group fields
// when groups is set (not for the totals).
func writeRow(b *strings.Builder, r *usage.Report, row *usage.ReportRow, groups bool) {
	b.WriteByte('{')
	if groups {
		for i, g := range r.GroupBy {
			writeJSONString(b, columnName(g))
			b.WriteByte(':')
			writeJSONString(b, row.Group[i])
			b.WriteByte(',')
		}
	}
	for i, v := range numbers(&row.Totals) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(numberColumns[i])
		b.WriteString(`":`)
		if v == "" {
			v = "null"
		}
		b.WriteString(v)
	}
	b.WriteByte('}')
}

func writeJSONString(b *strings.Builder, s string) {
	q, _ := json.Marshal(s)
	b.Write(q)
}

// header returns the column names of the report's rows.
func header(r *usage.Report) []string {
	h := make([]string, 0, len(r.GroupBy)+len(numberColumns))
	for _, g := range r.GroupBy {
		h = append(h, columnName(g))
	}
	return append(h, numberColumns...)
}

// WriteReportCSV writes the report's rows as CSV with a header line (no
// totals line: a spreadsheet sums the columns). An unpriced cost is
// empty. The group columns hold names clients chose (models, and
// whatever else a row is grouped by): a value a spreadsheet would take
// for a formula is written as text (textCell); the number columns are
// numbers.
func WriteReportCSV(w io.Writer, r *usage.Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header(r)); err != nil {
		return err
	}
	var rec []string
	for i := range r.Rows {
		rec = rec[:0]
		for _, g := range r.Rows[i].Group {
			rec = append(rec, textCell(g))
		}
		if err := cw.Write(append(rec, numbers(&r.Rows[i].Totals)...)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// textCell keeps a text cell from being a formula when the CSV is opened
// in a spreadsheet: Excel, LibreOffice and Google Sheets evaluate a cell
// starting with = + - @ (or a tab or line break before one), so a model
// named =HYPERLINK(…) would become a live link. Such a value gets a
// leading single quote, which makes it text (OWASP, "CSV Injection").
// Number columns do not pass through here: -1 stays a number.
func textCell(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r\n", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// WriteReportTable writes the report as an aligned text table with a
// TOTAL line; an unpriced cost is shown as "-".
func WriteReportTable(w io.Writer, r *usage.Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	line := func(cells []string) {
		for _, c := range cells {
			if c == "" {
				c = "-"
			}
			fmt.Fprint(tw, c, "\t")
		}
		fmt.Fprintln(tw)
	}
	line(header(r))
	for i := range r.Rows {
		line(append(append([]string(nil), r.Rows[i].Group...), numbers(&r.Rows[i].Totals)...))
	}
	total := make([]string, len(r.GroupBy))
	if len(total) > 0 {
		total[0] = "TOTAL"
		for i := 1; i < len(total); i++ {
			total[i] = " "
		}
	}
	line(append(total, numbers(&r.Totals.Totals)...))
	fmt.Fprintf(tw, "\n")
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s .. %s (UTC days); cost and saved (by cache hits) in USD; '-' = no price known for the model\n", r.From, r.To)
	return err
}
