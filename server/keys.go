package main

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
