package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/admin"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// usageCommand prints a usage report from the configured store:
//
//	go run ./server usage --from 2026-11-01 --to 2026-11-30 --group-by model,key --format table|csv|json
func usageCommand(o runOptions, args []string) error {
	fs := flag.NewFlagSet("usage", flag.ContinueOnError)
	fs.SetOutput(o.stderr)
	from := fs.String("from", "", "first UTC day, YYYY-MM-DD (default: six days before --to)")
	to := fs.String("to", "", "last UTC day, YYYY-MM-DD (default: today)")
	groupBy := fs.String("group-by", "day", "day, model, provider, key — comma-separated to combine; none for one total")
	format := fs.String("format", "table", "table, csv or json")
	keys := fs.Bool("keys", false, "list the key_id of each configured access key (to read reports by key) and exit")
	fs.Usage = func() {
		fmt.Fprintln(o.stderr, "usage: server usage [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--group-by day,model,provider,key] [--format table|csv|json]")
		fmt.Fprintln(o.stderr, "Reads the usage store the server writes (LLMBRIDGE_DB or LLMBRIDGE_DATABASE_URL, from the environment or .env).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("usage: unexpected arguments %q", fs.Args())
	}
	if *keys {
		environ, err := o.readEnviron()
		if err != nil {
			return err
		}
		cfg, err := LoadConfig(environ)
		if err != nil {
			return err
		}
		return listKeyIDs(o.stdout, cfg.AccessKeys)
	}
	if *format != "table" && *format != "csv" && *format != "json" {
		return fmt.Errorf("usage: --format %q: use table, csv or json", *format)
	}
	q, err := admin.ParseQuery(*from, *to, *groupBy, time.Now())
	if err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	environ, err := o.readEnviron()
	if err != nil {
		return err
	}
	cfg, err := LoadConfig(environ)
	if err != nil {
		return err
	}
	dsn := cfg.StoreDSN()
	if dsn == "" {
		return errors.New("usage: the usage store is off (LLMBRIDGE_DB=off)")
	}
	if !usage.IsPostgresURL(dsn) {
		if _, err := os.Stat(dsn); err != nil {
			return fmt.Errorf("usage: no usage database at %s (run from the server's directory, or set LLMBRIDGE_DB): %w", dsn, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := usage.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.Report(ctx, q)
	if err != nil {
		return err
	}
	return writeReport(o.stdout, rep, *format)
}

func writeReport(w io.Writer, rep *usage.Report, format string) error {
	switch format {
	case "csv":
		return admin.WriteReportCSV(w, rep)
	case "json":
		_, err := w.Write(append(admin.ReportJSON(rep), '\n'))
		return err
	}
	return admin.WriteReportTable(w, rep)
}

// listKeyIDs prints each access key's key_id beside its position in
// ACCESS_API_KEYS and its last four characters — never the key.
func listKeyIDs(w io.Writer, keys []string) error {
	if len(keys) == 0 {
		_, err := fmt.Fprintln(w, "no ACCESS_API_KEYS: requests carry an empty key_id")
		return err
	}
	for i, k := range keys {
		tail := "…"
		if len(k) >= 16 {
			tail = "…" + k[len(k)-4:]
		}
		if _, err := fmt.Fprintf(w, "%s  ACCESS_API_KEYS #%d  %s\n", llmbridge.KeyID(k), i+1, tail); err != nil {
			return err
		}
	}
	return nil
}
