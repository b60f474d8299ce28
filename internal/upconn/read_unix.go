//go:build unix

package upconn

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// canWatch: a read can be made without waiting (syscall.RawConn.Read).
const canWatch = true

// readArmed is an armed Read: the read system call made through the
// runtime's poller, which waits for the connection to be readable each
// time the callback reports false. The armed function is called at the
// first EAGAIN; an error from it ends the read.
func (c *Conn) readArmed(p []byte) (int, error) {
	var n int
	var rerr, ferr error
	called := false
	err := c.raw.Read(func(fd uintptr) bool {
		for {
			n, rerr = syscall.Read(int(fd), p)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr != syscall.EAGAIN {
			return true
		}
		if !called {
			called = true
			if ferr = c.beforeWait(); ferr != nil {
				return true
			}
		}
		return false
	})
	switch {
	case ferr != nil:
		return 0, ferr
	case err != nil:
		// The poller's own failure (closed, past the deadline), named as
		// a read's would be.
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "raw-read" {
			err = oe.Err
		}
		return 0, c.opError(err)
	case rerr != nil:
		return 0, c.opError(os.NewSyscallError("read", rerr))
	case n <= 0:
		return 0, io.EOF
	}
	return n, nil
}

// opError is err as net.Conn's Read reports it.
func (c *Conn) opError(err error) error {
	return &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
