//go:build unix

package upconn

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// canWatch: a read can be made without waiting (syscall.RawConn.Read).
const canWatch = true

// readArmed is an armed Read: the read system call made through the
// runtime's poller, which waits for the connection to be readable each
// time the callback reports false. The armed function is called at the
// first EAGAIN; an error from it ends the read.
func (c *Conn) readArmed(p []byte) (int, error) {
	op := readOps.Get().(*readOp)
	op.c, op.p, op.n, op.rerr, op.ferr, op.called = c, p, 0, nil, nil, false
	err := c.raw.Read(op.fn)
	n, rerr, ferr := op.n, op.rerr, op.ferr
	op.c, op.p, op.rerr, op.ferr = nil, nil, nil, nil // keep nothing alive in the pool
	readOps.Put(op)
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

// readOp is one armed read: the state its callback (fn, made once per
// readOp) shares with readArmed. They come from a pool: a closure made per
// read, and the variables it captured, cost four allocations a stream.
type readOp struct {
	c          *Conn
	p          []byte
	n          int
	rerr, ferr error
	called     bool
	fn         func(fd uintptr) bool
}

var readOps = sync.Pool{New: func() any {
	op := &readOp{}
	op.fn = op.read
	return op
}}

// read is the callback of syscall.RawConn.Read: true when the read is
// done (bytes, end, error, or the armed function's error), false to wait
// for the connection to be readable.
func (op *readOp) read(fd uintptr) bool {
	for {
		op.n, op.rerr = syscall.Read(int(fd), op.p)
		if op.rerr != syscall.EINTR {
			break
		}
	}
	if op.rerr != syscall.EAGAIN {
		return true
	}
	if !op.called {
		op.called = true
		if op.ferr = op.c.beforeWait(); op.ferr != nil {
			return true
		}
	}
	return false
}

// opError is err as net.Conn's Read reports it.
func (c *Conn) opError(err error) error {
	return &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
