// Package usagecli is the server's "usage" command: it prints usage
// reports from the usage store the server writes, and the key_id of each
// access key to read them by.
package usagecli

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

// Config is what the usage command needs from the server's configuration.
type Config struct {
	StoreDSN   string       // the usage store; "" when it is off
	AccessKeys []string     // ACCESS_API_KEYS, for --keys
	Prices     usage.Prices // the prices in force, whose sources the table's footer names
}

// flags are the command's parsed flags.
type flags struct {
	from, to, groupBy, format string
	keys                      bool
}

// Main prints a usage report from the configured store:
//
//	go run ./server usage --from 2026-11-01 --to 2026-11-30 --group-by model,key --format table|csv|json
//	go run ./server usage --keys
//
// load reads the configuration once the flags parsed. Reports go to
// stdout, usage to stderr.
func Main(args []string, stdout, stderr io.Writer, load func() (Config, error)) error {
	f, err := parse(args, stderr)
	if err != nil || f == nil {
		return err // nil, nil: usage was printed
	}
	if f.keys {
		cfg, err := load()
		if err != nil {
			return err
		}
		return listKeyIDs(stdout, cfg.AccessKeys)
	}
	if f.format != "table" && f.format != "csv" && f.format != "json" {
		return fmt.Errorf("usage: --format %q: use table, csv or json", f.format)
	}
	q, err := admin.ParseQuery(f.from, f.to, f.groupBy, time.Now())
	if err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	rep, err := report(cfg.StoreDSN, q)
	if err != nil {
		return err
	}
	if err := writeReport(stdout, rep, f.format); err != nil || f.format != "table" {
		return err
	}
	return admin.WritePriceSources(stdout, cfg.Prices)
}

// parse reads the command's flags; nil without error when -help printed
// the usage.
func parse(args []string, stderr io.Writer) (*flags, error) {
	var f flags
	fs := flag.NewFlagSet("usage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.from, "from", "", "first UTC day, YYYY-MM-DD (default: six days before --to)")
	fs.StringVar(&f.to, "to", "", "last UTC day, YYYY-MM-DD (default: today)")
	fs.StringVar(&f.groupBy, "group-by", "day", "day, model, provider, key, team, user — comma-separated to combine; none for one total")
	fs.StringVar(&f.format, "format", "table", "table, csv or json")
	fs.BoolVar(&f.keys, "keys", false, "list the key_id of each configured access key (to read reports by key) and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: server usage [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--group-by day,model,provider,key,team,user] [--format table|csv|json]")
		fmt.Fprintln(stderr, "Reads the usage store the server writes (LLMBRIDGE_DB or LLMBRIDGE_DATABASE_URL, from the environment or .env).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("usage: unexpected arguments %q", fs.Args())
	}
	return &f, nil
}

// report opens the store at dsn and reads the report q asks for.
func report(dsn string, q usage.Query) (*usage.Report, error) {
	if dsn == "" {
		return nil, errors.New("usage: the usage store is off (LLMBRIDGE_DB=off)")
	}
	if !usage.IsPostgresURL(dsn) {
		if _, err := os.Stat(dsn); err != nil {
			return nil, fmt.Errorf("usage: no usage database at %s (run from the server's directory, or set LLMBRIDGE_DB): %w", dsn, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := usage.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Report(ctx, q)
}

// writeReport writes rep as a table, CSV or JSON.
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
