// Package pgtest gives tests a real PostgreSQL: the server named by
// LLMBRIDGE_TEST_DATABASE_URL, or else a throwaway cluster it starts
// itself (initdb + pg_ctl from PATH or /usr/lib/postgresql/*/bin, in a
// temporary directory, on a free loopback port, trust auth, fsync off)
// and stops when the test binary ends (use Main in TestMain). Each caller
// gets its own schema, so tests do not see each other's tables.
//
// When no PostgreSQL can be started the tests skip with the reason —
// unless LLMBRIDGE_REQUIRE_POSTGRES=1 (set by the repository's test
// script, which installs PostgreSQL), where they fail.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
)

var (
	once    sync.Once
	baseURL string
	dataDir string
	pgCtl   string
	asUser  string
	initErr error
	schemas atomic.Int64
)

// Main runs the tests and then stops the cluster Start may have started.
// Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Stop stops a cluster started by this package and deletes its files.
func Stop() {
	if dataDir == "" {
		return
	}
	_ = command(pgCtl, "stop", "-D", dataDir, "-m", "immediate", "-w").Run()
	_ = os.RemoveAll(filepath.Dir(dataDir))
	dataDir = ""
}

// URL returns the URL of a fresh, empty schema on a PostgreSQL server,
// skipping (or failing, see the package doc) when there is none.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { baseURL, initErr = start() })
	if initErr != nil {
		if os.Getenv("LLMBRIDGE_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL is required (LLMBRIDGE_REQUIRE_POSTGRES=1) but could not be started: %v", initErr)
		}
		t.Skipf("SKIPPING PostgreSQL test: %v (install PostgreSQL, or set LLMBRIDGE_TEST_DATABASE_URL)", initErr)
	}
	schema := fmt.Sprintf("t%d_%d", os.Getpid(), schemas.Add(1))
	db, err := sql.Open("pgx", baseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", baseURL)
		if err == nil {
			_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		}
	})
	u, _ := url.Parse(baseURL)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func start() (string, error) {
	if u := os.Getenv("LLMBRIDGE_TEST_DATABASE_URL"); u != "" {
		return u, nil
	}
	initdb, err := find("initdb")
	if err != nil {
		return "", err
	}
	pgCtl = filepath.Join(filepath.Dir(initdb), "pg_ctl")
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: use the account the Debian
		// package creates.
		if _, err := user.Lookup("postgres"); err != nil {
			return "", errors.New("running as root and there is no postgres user to run PostgreSQL as")
		}
		asUser = "postgres"
	}
	root, err := os.MkdirTemp("", "llmbridge-pg-*")
	if err != nil {
		return "", err
	}
	if asUser != "" {
		if err := command("chown", "-R", asUser, root).Run(); err != nil {
			os.RemoveAll(root)
			return "", fmt.Errorf("chown %s: %w", root, err)
		}
		_ = os.Chmod(root, 0o755)
	}
	data := filepath.Join(root, "data")
	if out, err := command(initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		os.RemoveAll(root)
		return "", fmt.Errorf("initdb: %v: %s", err, lastLines(out))
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(root)
		return "", err
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, root)
	if out, err := command(pgCtl, "start", "-D", data, "-w", "-t", "60", "-l", filepath.Join(root, "log"), "-o", opts).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(root, "log"))
		os.RemoveAll(root)
		return "", fmt.Errorf("pg_ctl start: %v: %s %s", err, lastLines(out), lastLines(log))
	}
	dataDir = data
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), nil
}

func command(name string, args ...string) *exec.Cmd {
	if asUser != "" && name != "chown" {
		return exec.Command("runuser", append([]string{"-u", asUser, "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

// find looks for a PostgreSQL server program on PATH, then in Debian's
// versioned directories (newest first).
func find(prog string) (string, error) {
	if p, err := exec.LookPath(prog); err == nil {
		return p, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if p := filepath.Join(d, prog); fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("no %s on PATH or in /usr/lib/postgresql/*/bin", prog)
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}
