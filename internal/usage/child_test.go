package usage

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

const childEnv = "LLMBRIDGE_USAGE_CHILD_DB"

// childMain is the process TestKill9DuringLoad kills: a writer under
// steady load on the SQLite file named by the environment.
func childMain() int {
	s, err := Open(context.Background(), os.Getenv(childEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	w, err := NewWriter(s, WriterOptions{Prices: DefaultPrices(), FlushEvery: 5 * time.Millisecond, BatchSize: 64, Retention: time.Hour})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for i := 0; ; i++ {
		w.Record(rec(time.Now(), fmt.Sprintf("key-%d", i%7), "openai", "gpt-4o-mini", 100+i%50, i%20, i%30, 200))
		if i%50 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

// TestKill9DuringLoad kills a process that is writing usage as fast as
// it can, at different moments, and checks that the SQLite file is sound
// (PRAGMA integrity_check) and consistent: the rollups count exactly the
// request rows that were committed.
func TestKill9DuringLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "usage.db")
	var last int64
	for round, after := range []int64{200, 2000, 5000, 9000} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+path)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			var n int64
			_ = db.QueryRow(`SELECT COUNT(*) FROM requests`).Scan(&n)
			if n >= after {
				break
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				t.Fatalf("round %d: only %d rows after 30s", round, n)
			}
			time.Sleep(2 * time.Millisecond)
		}
		db.Close()
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatalf("round %d: reopening after kill -9: %v", round, err)
		}
		res, err := s.integrityCheck(context.Background())
		if err != nil || res != "ok" {
			t.Fatalf("round %d: integrity_check %q %v", round, res, err)
		}
		n := count(t, s) // fails unless rollups == rows
		if n < last {
			t.Fatalf("round %d: %d rows, fewer than the %d committed before", round, n, last)
		}
		last = n
		s.Close()
	}
	t.Logf("%d rows committed across 4 kills; integrity ok, rollups consistent", last)
}
