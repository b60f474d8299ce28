// Package keyscli is the server's "keys" command: it rewrites the keys in
// the .env file (Rotate) and manages the virtual keys of the usage store
// as the admin API does (Main's create, list, show, update and revoke).
// The server hands it what it needs from the configuration.
package keyscli

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/renameio/v2"
)

// EnvVar is a variable of the .env file that Rotate sets from a flag.
type EnvVar struct {
	Flag string // the flag's name, without dashes: openai
	Name string // the variable: OPENAI_API_KEY
	Help string // the flag's help text
}

// Rotate rewrites keys in the .env file:
//
//	go run ./server keys --access k1,k2 --openai K --google K --deepseek K --anthropic K --admin K [--env-file PATH]
//
// vars lists the flags and the variables they set. Only the named
// variables change; every other line and comment stays. The file is
// replaced atomically (temporary file, then rename) with mode 0600. A
// running server picks the change up within seconds. Usage and the
// summary go to out; the keys are never printed.
func Rotate(args []string, out io.Writer, vars []EnvVar) error {
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	fs.SetOutput(out)
	envFile := fs.String("env-file", ".env", "the file to update")
	values := make([]*string, len(vars))
	for i, v := range vars {
		values[i] = fs.String(v.Flag, "", v.Help)
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
			if v.Flag == f.Name {
				set[v.Name] = strings.TrimSpace(*values[i])
				order = append(order, v.Name)
			}
		}
	})
	if len(set) == 0 {
		return errors.New("keys: nothing to change; give at least one of " + flagList(vars))
	}
	if err := updateEnvFile(*envFile, set, order); err != nil {
		return err
	}
	fmt.Fprintf(out, "updated %s in %s; a running server reloads within seconds (or send it SIGHUP)\n", strings.Join(order, ", "), *envFile)
	return nil
}

// flagList names the flags of vars: "--access, --openai".
func flagList(vars []EnvVar) string {
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = "--" + v.Flag
	}
	return strings.Join(names, ", ")
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
