package main

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// serverBinary is the server built as the container builds it: the test
// script's static build (LLMBRIDGE_SERVER_BIN), or one built here.
func serverBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("LLMBRIDGE_SERVER_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "llmbridge")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the server: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// stream is one client stream to the server under test.
type stream struct {
	body  bytes.Buffer
	first chan struct{}
	done  chan struct{}
}

func startStream(t *testing.T, addr, key string) *stream {
	t.Helper()
	s := &stream{first: make(chan struct{}), done: make(chan struct{})}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/chat/completions",
		strings.NewReader(`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true}`))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		once := false
		for {
			line, err := r.ReadString('\n')
			s.body.WriteString(line)
			if !once && strings.HasPrefix(line, "data: ") {
				once = true
				close(s.first)
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-s.first:
	case <-time.After(10 * time.Second):
		t.Fatal("no first event")
	}
	return s
}

// The real server binary under SIGTERM: /readyz turns 503 at once, streams
// that finish within LLMBRIDGE_SHUTDOWN_TIMEOUT finish, a stuck one gets an
// error event at the deadline, every request is in the request log, and
// the process exits within the timeout and a second.
func TestShutdownDrainsThenEndsStuckStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server binary")
	}
	bin := serverBinary(t)
	up := testupstream.New(t, testupstream.OpenAI)
	dir := t.TempDir()
	addr := freeAddr(t)
	const key, timeout = "sk-access-shutdown", 3 * time.Second
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"LLMBRIDGE_ADDR=" + addr, "ACCESS_API_KEYS=" + key,
		"OPENAI_API_KEY=" + up.Key, "OPENAI_BASE_URL=" + up.BaseURL(),
		"LLMBRIDGE_DB=off", "LLMBRIDGE_LOG_FILE=" + filepath.Join(dir, "requests.log"),
		"LLMBRIDGE_SHUTDOWN_TIMEOUT=" + timeout.String(),
		"LLMBRIDGE_DEMO=false", "LLMBRIDGE_DISCOVER_LOCAL=false",
	}
	var logs bytes.Buffer
	cmd.Stderr, cmd.Stdout = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	ready := func() int {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for deadline := time.Now().Add(30 * time.Second); ready() != 200; {
		if time.Now().After(deadline) {
			t.Fatal("the server did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Two streams that finish 1.5 s after SIGTERM, one that never would.
	up.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c", "d"}, Delay: 250 * time.Millisecond})
	finishing1 := startStream(t, addr, key)
	up.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c", "d"}, Delay: 250 * time.Millisecond})
	finishing2 := startStream(t, addr, key)
	up.Enqueue(testupstream.Reply{Content: []string{"a", "b"}, StallAfter: 1})
	stuck := startStream(t, addr, key)

	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if code := ready(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: %d, want 503", code)
	}
	select {
	case <-exited:
	case <-time.After(timeout + 10*time.Second):
		t.Fatal("the server did not exit")
	}
	if took := time.Since(sent); took > timeout+time.Second {
		t.Errorf("exit %v after SIGTERM, want within the %v timeout + 1s", took, timeout)
	}
	for i, s := range []*stream{finishing1, finishing2, stuck} {
		<-s.done
		body := s.body.String()
		done := strings.Contains(body, "data: [DONE]")
		if i < 2 && !done {
			t.Errorf("stream %d did not finish:\n%s", i, body)
		}
		if i == 2 && (done || !strings.Contains(body, `"code":"server_shutting_down"`)) {
			t.Errorf("the stuck stream did not end with an error event:\n%s", body)
		}
	}
	log, err := os.ReadFile(filepath.Join(dir, "requests.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), `"request_id"`); n != 3 {
		t.Errorf("%d requests in the request log, want 3:\n%s", n, log)
	}
	if !strings.Contains(string(log), "shutting down") {
		t.Errorf("the stuck stream's record does not say why it ended:\n%s", log)
	}
}
