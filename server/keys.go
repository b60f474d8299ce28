package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/renameio/v2"
	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/keys"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// keysCommand rewrites keys in the .env file:
//
//	go run ./server keys --access k1,k2 --openai K --google K --deepseek K --anthropic K --admin K [--env-file PATH]
//
// Only the named variables change; every other line and comment stays. The
// file is replaced atomically (temporary file, then rename) with mode 0600.
// A running server picks the change up within seconds.
func keysCommand(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	fs.SetOutput(out)
	envFile := fs.String("env-file", ".env", "the file to update")
	vars := []struct{ flag, name, help string }{
		{"access", "ACCESS_API_KEYS", "client access keys, comma-separated"},
		{"openai", "OPENAI_API_KEY", "OpenAI key"},
		{"google", "GOOGLE_API_KEY", "Google (Gemini) key"},
		{"deepseek", "DEEPSEEK_API_KEY", "DeepSeek key"},
		{"anthropic", "ANTHROPIC_API_KEY", "Anthropic key"},
		{"admin", "LLMBRIDGE_ADMIN_KEY", "admin API key"},
	}
	values := make([]*string, len(vars))
	for i, v := range vars {
		values[i] = fs.String(v.flag, "", v.help)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // usage was printed
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("keys: unexpected arguments %q", fs.Args())
	}
	set := map[string]string{}
	var order []string
	fs.Visit(func(f *flag.Flag) {
		for i, v := range vars {
			if v.flag == f.Name {
				set[v.name] = strings.TrimSpace(*values[i])
				order = append(order, v.name)
			}
		}
	})
	if len(set) == 0 {
		return errors.New("keys: nothing to change; give at least one of --access, --openai, --google, --deepseek, --anthropic, --admin")
	}
	if err := updateEnvFile(*envFile, set, order); err != nil {
		return err
	}
	fmt.Fprintf(out, "updated %s in %s; a running server reloads within seconds (or send it SIGHUP)\n", strings.Join(order, ", "), *envFile)
	return nil
}

var assignment = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=`)

// updateEnvFile sets the variables in set, replacing their lines in place
// and appending the ones not present, keeping everything else byte for
// byte, and replaces the file atomically with mode 0600.
func updateEnvFile(path string, set map[string]string, order []string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var out bytes.Buffer
	done := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(old))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := assignment.FindStringSubmatch(line); m != nil {
			if v, ok := set[m[1]]; ok {
				if done[m[1]] {
					continue // a duplicate assignment would override ours
				}
				line = m[1] + "=" + quote(v)
				done[m[1]] = true
			}
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for _, name := range order {
		if !done[name] {
			out.WriteString(name + "=" + quote(set[name]) + "\n")
		}
	}
	// Temp file in the same directory, fsync, rename: a crash leaves the
	// old .env or the new one, never half of one. Always 0600: it holds keys.
	t, err := renameio.NewPendingFile(path, renameio.WithStaticPermissions(0o600))
	if err != nil {
		return err
	}
	defer t.Cleanup()
	if _, err := t.Write(out.Bytes()); err != nil {
		return err
	}
	return t.CloseAtomicallyReplace()
}

// quote leaves plain values bare and double-quotes the rest the way
// godotenv reads them back.
func quote(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t#\"'\\$`\n") {
		return v
	}
	return strconv.Quote(v)
}

// keysMain is the "keys" command: the virtual-key subcommands (create,
// list, show, update, revoke), or else the .env rotation of keysCommand.
func keysMain(o runOptions, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "create", "list", "show", "update", "revoke":
			return virtualKeysCommand(o, args[0], args[1:])
		}
	}
	return keysCommand(args, o.stderr)
}

// virtualKeysCommand manages virtual keys in the configured usage store,
// as the admin API does:
//
//	go run ./server keys create --name ann --models 'openai/*' --rpm 60 --daily-budget-usd 5
//	go run ./server keys list [--format table|json]
//	go run ./server keys show vk_…
//	go run ./server keys update vk_… --rpm 120
//	go run ./server keys revoke vk_…
//
// Running servers see every change within a second.
func virtualKeysCommand(o runOptions, cmd string, args []string) error {
	fs := flag.NewFlagSet("keys "+cmd, flag.ContinueOnError)
	fs.SetOutput(o.stderr)
	format := fs.String("format", "table", "list: table or json")
	var p keys.Params
	if cmd == "create" || cmd == "update" {
		str := func(name, help string, dst **string) {
			fs.Func(name, help, func(v string) error { *dst = &v; return nil })
		}
		num := func(name, help string, dst **int64) {
			fs.Func(name, help, func(v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				*dst = &n
				return err
			})
		}
		usd := func(name, help string, dst **float64) {
			fs.Func(name, help, func(v string) error {
				n, err := strconv.ParseFloat(v, 64)
				*dst = &n
				return err
			})
		}
		str("name", "who or what uses the key", &p.Name)
		str("owner", "owner or tag", &p.Owner)
		fs.Func("models", "allowed models, comma-separated patterns (openai/*); empty: any", func(v string) error {
			list := []string{}
			for _, m := range strings.Split(v, ",") {
				if m = strings.TrimSpace(m); m != "" {
					list = append(list, m)
				}
			}
			p.Models = &list
			return nil
		})
		num("rpm", "requests per minute (0: no limit)", &p.RPM)
		num("tpm", "tokens per minute (0: no limit)", &p.TPM)
		num("max-parallel", "requests in flight (0: no limit)", &p.MaxParallel)
		usd("daily-budget-usd", "USD per UTC day (0: no budget)", &p.DailyBudgetUSD)
		usd("monthly-budget-usd", "USD per UTC month (0: no budget)", &p.MonthlyBudgetUSD)
		str("expires-at", "RFC 3339 time the key stops working (empty: never)", &p.ExpiresAt)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var id string
	switch cmd {
	case "show", "update", "revoke":
		if fs.NArg() != 1 || !keys.ValidID(fs.Arg(0)) {
			return fmt.Errorf("keys %s: give one key id (vk_ and 16 hex digits); flags go before it", cmd)
		}
		id = fs.Arg(0)
	default:
		if fs.NArg() > 0 {
			return fmt.Errorf("keys %s: unexpected arguments %q", cmd, fs.Args())
		}
	}
	environ, err := o.readEnviron()
	if err != nil {
		return err
	}
	cfg, err := LoadConfig(environ)
	if err != nil {
		return err
	}
	if cfg.StoreDSN() == "" {
		return errors.New("keys: the usage store is off (LLMBRIDGE_DB=off), and virtual keys live in it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := usage.Open(ctx, cfg.StoreDSN())
	if err != nil {
		return err
	}
	defer u.Close()
	st, now := keys.NewStore(u), time.Now()
	var k *keys.Key
	switch cmd {
	case "create":
		var secret string
		if k, secret, err = st.Create(ctx, &p, now); err != nil {
			return fmt.Errorf("keys create: %w", err)
		}
		fmt.Fprintf(o.stdout, "created %s (%s)\nsecret, shown this once — give it to its user now: %s\n", k.ID, k.Name, secret)
		warnKey(o.stderr, cfg, k)
		return nil
	case "list":
		list, err := st.List(ctx)
		if err != nil {
			return err
		}
		spend, err := st.Spend(ctx, now)
		if err != nil {
			return err
		}
		return printKeys(o.stdout, *format, list, spend, now)
	case "show":
		k, err = st.Get(ctx, id)
	case "update":
		k, err = st.Update(ctx, id, &p, now)
	case "revoke":
		k, err = st.Revoke(ctx, id, now)
	}
	if err != nil {
		return fmt.Errorf("keys %s %s: %w", cmd, id, err)
	}
	if cmd == "update" {
		warnKey(o.stderr, cfg, k)
	}
	spend, _ := st.Spend(ctx, now)
	return printKeys(o.stdout, *format, []*keys.Key{k}, spend, now)
}

// warnKey prints what the admin API returns as warnings for k: its
// budget cannot count models without a price, and requests to them are
// refused.
func warnKey(w io.Writer, cfg *Config, k *keys.Key) {
	if k.DailyBudgetUSD == 0 && k.MonthlyBudgetUSD == 0 {
		return
	}
	for _, msg := range keyCatalog(cfg).Warnings(&k.Policy) {
		fmt.Fprintln(w, "warning:", msg)
	}
}

// keyCatalog is what the keys command checks a budgeted key's models
// against: the configuration's prices and the model list of a Bridge
// built from it (never started: no request is sent), so "openai/*" is
// checked against the models the server would serve. Models the server
// discovers at start (LLMBRIDGE_DISCOVER_LOCAL) are not known here.
func keyCatalog(cfg *Config) keys.Catalog {
	c := keys.Catalog{Prices: cfg.AllPrices()}
	b, err := llmbridge.New(cfg.Options(slog.New(slog.DiscardHandler))...)
	if err != nil {
		return c // the server would not start with it either, and says why
	}
	defer b.Close()
	for _, m := range b.Models() {
		c.Models = append(c.Models, m.ID)
	}
	c.Priced = func(model string) bool { return pricedOn(b, c.Prices, model) }
	return c
}

// printKeys writes keys as an aligned table or as JSON; never a secret.
func printKeys(w io.Writer, format string, list []*keys.Key, spend map[string]keys.Spend, now time.Time) error {
	if format == "json" {
		type view struct {
			*keys.Key
			Spend keys.Spend `json:"spend"`
		}
		out := make([]view, len(list))
		for i, k := range list {
			out[i] = view{k, spend[k.ID]}
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	if format != "table" {
		return fmt.Errorf("keys: --format %q: use table or json", format)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tOWNER\tLAST4\tMODELS\tRPM\tTPM\tPARALLEL\tDAY $\tMONTH $\tSPENT TODAY $\tSTATE")
	for _, k := range list {
		state := "active"
		switch {
		case k.RevokedAt != nil:
			state = "revoked " + k.RevokedAt.Format(time.DateOnly)
		case !k.Active(now):
			state = "expired"
		case k.ExpiresAt != nil:
			state = "until " + k.ExpiresAt.Format(time.RFC3339)
		}
		models := strings.Join(k.Models, ",")
		if models == "" {
			models = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t…%s\t%s\t%d\t%d\t%d\t%g\t%g\t%g\t%s\n", k.ID, k.Name, k.Owner, k.Last4, models, k.RPM, k.TPM, k.MaxParallel,
			k.DailyBudgetUSD, k.MonthlyBudgetUSD, spend[k.ID].TodayUSD, state)
	}
	return tw.Flush()
}
