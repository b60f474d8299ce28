package keyscli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/keys"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// Config is what the virtual-key commands need from the server's
// configuration.
type Config struct {
	// StoreDSN is the usage store the virtual keys live in; "" when the
	// store is off.
	StoreDSN string
	// Catalog is what a budgeted key's models are checked against (its
	// warnings are printed on create and update); called at most once.
	Catalog func() keys.Catalog
}

// Options are the keys command's inputs.
type Options struct {
	Stdout io.Writer // listings and the new key's secret
	Stderr io.Writer // usage, warnings and the .env summary
	// EnvVars are the variables Rotate sets (keys --flag …).
	EnvVars []EnvVar
	// Load reads the configuration; the virtual-key commands call it once
	// their flags parsed.
	Load func() (Config, error)
}

// commands are the virtual-key subcommands.
var commands = []string{"create", "list", "show", "update", "revoke"}

// Main is the "keys" command: the virtual-key subcommands
//
//	go run ./server keys create --name ann --models 'openai/*' --mcp-servers team --rpm 60 --daily-budget-usd 5
//	go run ./server keys list [--format table|json]
//	go run ./server keys show vk_…
//	go run ./server keys update vk_… --rpm 120
//	go run ./server keys revoke vk_…
//
// or else the .env rotation of Rotate. Running servers see every change
// to a virtual key within a second.
func Main(args []string, o Options) error {
	if len(args) > 0 && slices.Contains(commands, args[0]) {
		return virtual(o, args[0], args[1:])
	}
	return Rotate(args, o.Stderr, o.EnvVars)
}

// invocation is one parsed virtual-key command.
type invocation struct {
	cmd    string
	id     string // show, update, revoke: the key
	format string // table or json
	params keys.Params
}

// virtual manages virtual keys in the configured usage store.
func virtual(o Options, cmd string, args []string) error {
	in, err := parse(cmd, args, o.Stderr)
	if err != nil || in == nil {
		return err // nil, nil: usage was printed
	}
	cfg, err := o.Load()
	if err != nil {
		return err
	}
	if cfg.StoreDSN == "" {
		return errors.New("keys: the usage store is off (LLMBRIDGE_DB=off), and virtual keys live in it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := usage.Open(ctx, cfg.StoreDSN)
	if err != nil {
		return err
	}
	defer u.Close()
	return in.run(ctx, keys.NewStore(u), o, cfg)
}

// parse reads cmd's flags and arguments; nil without error when -help
// printed the usage.
func parse(cmd string, args []string, stderr io.Writer) (*invocation, error) {
	in := &invocation{cmd: cmd}
	fs := flag.NewFlagSet("keys "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&in.format, "format", "table", "list: table or json")
	if cmd == "create" || cmd == "update" {
		paramFlags(fs, &in.params)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	switch cmd {
	case "show", "update", "revoke":
		if fs.NArg() != 1 || !keys.ValidID(fs.Arg(0)) {
			return nil, fmt.Errorf("keys %s: give one key id (vk_ and 16 hex digits); flags go before it", cmd)
		}
		in.id = fs.Arg(0)
	default:
		if fs.NArg() > 0 {
			return nil, fmt.Errorf("keys %s: unexpected arguments %q", cmd, fs.Args())
		}
	}
	return in, nil
}

// paramFlags defines the flags of a key's settings on fs; only the flags
// given set a field of p.
func paramFlags(fs *flag.FlagSet, p *keys.Params) {
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
	str("owner", "who uses it: a person (email) or a tag", &p.Owner)
	str("team", "the team's name or id (empty: none); teams are managed at /admin/api/teams", &p.Team)
	patterns := func(name, help string, dst **[]string) {
		fs.Func(name, help, func(v string) error {
			list := []string{}
			for _, m := range strings.Split(v, ",") {
				if m = strings.TrimSpace(m); m != "" {
					list = append(list, m)
				}
			}
			*dst = &list
			return nil
		})
	}
	patterns("models", "allowed models, comma-separated patterns (openai/*); empty: any", &p.Models)
	patterns("mcp-servers", "MCP servers of /mcp the key may use, comma-separated patterns (team-*, or * for every one); empty: none", &p.MCPServers)
	num("rpm", "requests per minute (0: no limit)", &p.RPM)
	num("tpm", "tokens per minute (0: no limit)", &p.TPM)
	num("max-parallel", "requests in flight (0: no limit)", &p.MaxParallel)
	usd("daily-budget-usd", "USD per UTC day (0: no budget)", &p.DailyBudgetUSD)
	usd("monthly-budget-usd", "USD per UTC month (0: no budget)", &p.MonthlyBudgetUSD)
	str("expires-at", "RFC 3339 time the key stops working (empty: never)", &p.ExpiresAt)
}

// run carries out the command on st and prints the result.
func (in *invocation) run(ctx context.Context, st *keys.Store, o Options, cfg Config) error {
	now := time.Now()
	var k *keys.Key
	var err error
	switch in.cmd {
	case "create":
		return in.create(ctx, st, o, cfg, now)
	case "list":
		return list(ctx, st, o.Stdout, in.format, now)
	case "show":
		k, err = st.Get(ctx, in.id)
	case "update":
		k, err = st.Update(ctx, in.id, &in.params, now)
	case "revoke":
		k, err = st.Revoke(ctx, in.id, now)
	}
	if err != nil {
		return fmt.Errorf("keys %s %s: %w", in.cmd, in.id, err)
	}
	if in.cmd == "update" {
		warnKey(o.Stderr, cfg, k)
	}
	spend, _ := st.Spend(ctx, now)
	return printKeys(o.Stdout, in.format, []*keys.Key{k}, spend, now)
}

// create makes a key and shows its secret, once.
func (in *invocation) create(ctx context.Context, st *keys.Store, o Options, cfg Config, now time.Time) error {
	k, secret, err := st.Create(ctx, &in.params, now)
	if err != nil {
		return fmt.Errorf("keys create: %w", err)
	}
	fmt.Fprintf(o.Stdout, "created %s (%s)\nsecret, shown this once — give it to its user now: %s\n", k.ID, k.Name, secret)
	warnKey(o.Stderr, cfg, k)
	return nil
}

// list prints every key with its spend.
func list(ctx context.Context, st *keys.Store, w io.Writer, format string, now time.Time) error {
	all, err := st.List(ctx)
	if err != nil {
		return err
	}
	spend, err := st.Spend(ctx, now)
	if err != nil {
		return err
	}
	return printKeys(w, format, all, spend, now)
}

// warnKey prints what the admin API returns as warnings for k: its
// budget cannot count models without a price, and requests to them are
// refused.
func warnKey(w io.Writer, cfg Config, k *keys.Key) {
	if k.DailyBudgetUSD == 0 && k.MonthlyBudgetUSD == 0 || cfg.Catalog == nil {
		return
	}
	c := cfg.Catalog()
	for _, msg := range c.Warnings(&k.Policy) {
		fmt.Fprintln(w, "warning:", msg)
	}
}
