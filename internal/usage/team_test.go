package usage

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The writer attributes each record to its key's team and user; the
// rollups keep them apart (a key that changed team counts under each);
// reports group by them, showing a team by its name (a deleted team by
// its id), on SQLite and PostgreSQL alike; the rows keep them too.
func TestTeamAndUserAttribution(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO teams (id, name, models, rpm, tpm, max_parallel, daily_budget_usd, monthly_budget_usd, created_at, updated_at)
VALUES ('tm_000000000000000a', 'research', '[]', 0, 0, 0, 0, 0, 0, 0)`); err != nil {
			t.Fatal(err)
		}
		w, err := NewWriter(s, WriterOptions{Prices: DefaultPrices(), FlushEvery: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		team := map[string][2]string{"vk_a": {"tm_000000000000000a", "ann@example.com"}, "vk_b": {"tm_000000000000000b", "bob@example.com"}}
		w.SetAttribution(func(keyID string) (string, string) { a := team[keyID]; return a[0], a[1] })
		w.Record(rec(day1, "vk_a", "openai", "gpt-4o", 100, 0, 10, 200))
		w.Record(rec(day1.Add(time.Second), "vk_b", "openai", "gpt-4o", 100, 0, 10, 200))
		team["vk_a"] = [2]string{"tm_000000000000000b", "ann@example.com"} // ann's key moves to the other team
		w.Record(rec(day1.Add(2*time.Second), "vk_a", "openai", "gpt-4o", 100, 0, 10, 200))
		w.Record(rec(day1.Add(3*time.Second), "key-static", "openai", "gpt-4o", 100, 0, 10, 200))
		if err := w.Close(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		rep, err := s.Report(ctx, Query{From: "2026-11-23", To: "2026-11-23", GroupBy: []string{"team", "user"}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rep.Rows {
			got = append(got, strings.Join(r.Group, "|")+"="+strconv.FormatInt(r.Requests, 10))
		}
		want := "|=1 research|ann@example.com=1 tm_000000000000000b|ann@example.com=1 tm_000000000000000b|bob@example.com=1"
		if strings.Join(got, " ") != want {
			t.Fatalf("by team and user:\n got %s\nwant %s", strings.Join(got, " "), want)
		}
		rows, err := s.Requests(ctx, 10, "")
		if err != nil || len(rows) != 4 || rows[3].TeamID != "tm_000000000000000a" || rows[3].User != "ann@example.com" || rows[0].TeamID != "" {
			t.Fatalf("stored rows: %+v %v", rows, err)
		}
		if _, err := s.Report(ctx, Query{From: "2026-11-23", To: "2026-11-23", GroupBy: []string{"team", "team"}}); err == nil {
			t.Fatal("team twice accepted")
		}
	})
}
