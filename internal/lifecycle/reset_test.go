//go:build unix

package lifecycle

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// A write that passes its deadline makes the connection's close a reset,
// whoever closes it (net/http does, after such a write of its own): the
// client that stopped reading gets ECONNRESET, not the queued megabytes.
// A connection closed after writes that all went through ends with a FIN.
// The same holds for the connection's ReadFrom, which net/http uses to
// copy a body of known length (io.Copy), bypassing Write.
func TestResetListenerResetsAfterAWriteTimeout(t *testing.T) {
	for _, c := range []struct {
		stuck, readFrom bool
	}{{true, false}, {true, true}, {false, false}} {
		stuck := c.stuck
		client, srv := resetPair(t)
		_ = client.(*net.TCPConn).SetReadBuffer(4096)
		if _, ok := srv.(interface{ SetLinger(int) error }); !ok {
			t.Fatalf("accepted %T", srv)
		}
		if stuck {
			// Write until the deadline passes: the client reads nothing.
			_ = srv.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
			chunk := make([]byte, 64<<10)
			var err error
			if c.readFrom {
				// A body larger than any socket buffer, through io.Copy.
				_, err = io.Copy(srv, io.LimitReader(zeros{}, 1<<30))
			} else {
				for {
					if _, err = srv.Write(chunk); err != nil {
						break
					}
				}
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("write: %v", err)
			}
		} else if _, err := srv.Write([]byte("all of it")); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(client)
		switch {
		case stuck && !errors.Is(err, syscall.ECONNRESET):
			t.Errorf("stuck client: read %d bytes, then %v; want a reset", len(b), err)
		case !stuck && (err != nil || string(b) != "all of it"):
			t.Errorf("reading client: %q %v; want the bytes and a clean end", b, err)
		}
	}
}

// zeros reads as zero bytes, without end.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// resetPair returns the client end and the server end (accepted through
// ResetListener) of a loopback TCP connection, both closed at the test's
// end.
func resetPair(t *testing.T) (client, srv net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ResetListener(ln).Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv = <-accepted
	if srv == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); srv.Close() })
	return client, srv
}

// ResetConn (WithClientCut's hook in the server) resets the connection
// its context carries, TLS or not: the peer gets ECONNRESET although
// every write went through; a context without one is left alone.
func TestResetConnResetsTheRequestsConnection(t *testing.T) {
	ResetConn(context.Background()) // no connection: nothing to do, no panic
	client, srv := resetPair(t)
	if _, err := srv.Write([]byte("partial answer")); err != nil {
		t.Fatal(err)
	}
	ResetConn(ConnContext(context.Background(), srv))
	srv.Close()
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(client); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read %q, then %v; want a reset", b, err)
	}
}
