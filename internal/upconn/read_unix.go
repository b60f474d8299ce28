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

// readArmed is an armed Read. It reads once without waiting; when the
// kernel has nothing (EAGAIN), it calls the armed function — with no lock
// of this connection held, so that a Close from another goroutine (the
// transport cancelling the request) never waits for a slow client's
// flush — and then reads again, waiting through the runtime's poller for
// the connection to be readable. An error from the armed function ends
// the read instead.
//
// After a read that had to wait and did not fill p, the peer is sending
// at its own pace (an LLM's tokens, one event a read): the next read
// calls the armed function first and reads waiting, without the read
// that would only find nothing — one system call fewer an event. A read
// that then finds bytes at once (the peer sends faster than the relay
// writes), or that fills p (a burst after a pause), goes back to reading
// first, so that a burst is written in full flushes.
func (c *Conn) readArmed(p []byte) (int, error) {
	op := readOps.Get().(*readOp)
	op.p, op.n, op.rerr, op.waited = p, 0, nil, false
	var err error
	if c.paced.Load() {
		op.rerr = syscall.EAGAIN // as the read first would have found
	} else {
		err = c.raw.Read(op.try)
	}
	if err == nil && op.rerr == syscall.EAGAIN {
		if ferr := c.beforeWait(); ferr != nil {
			op.p, op.rerr = nil, nil
			readOps.Put(op)
			return 0, ferr
		}
		// Read again, now waiting. It reads before it waits: RawConn.Read
		// resets the poller's readiness first, so bytes that arrived
		// during the flush would not wake a wait that came first.
		err = c.raw.Read(op.wait)
		// A read that waited and then filled p is the start of a burst,
		// with more behind it: the next reads first.
		c.paced.Store(op.waited && op.n < len(p))
	}
	n, rerr := op.n, op.rerr
	op.p, op.rerr = nil, nil // keep nothing alive in the pool
	readOps.Put(op)
	switch {
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

// readOp is one armed read: the state its callbacks (try and wait, made
// once per readOp) share with readArmed. They come from a pool: closures
// made per read, and the variables they captured, cost allocations on
// every stream.
type readOp struct {
	p         []byte
	n         int
	rerr      error
	waited    bool // wait found nothing at first and waited for the peer
	try, wait func(fd uintptr) bool
}

var readOps = sync.Pool{New: func() any {
	op := &readOp{}
	op.try, op.wait = op.readOnce, op.readWaiting
	return op
}}

// sysRead is syscall.Read; a test counts the reads through it.
var sysRead = syscall.Read

// read is one read system call into op.p, retried on EINTR.
func (op *readOp) read(fd uintptr) {
	for {
		op.n, op.rerr = sysRead(int(fd), op.p)
		if op.rerr != syscall.EINTR {
			return
		}
	}
}

// readOnce is a syscall.RawConn.Read callback that never waits: it
// reports done after one read, EAGAIN included.
func (op *readOp) readOnce(fd uintptr) bool {
	op.read(fd)
	return true
}

// readWaiting is a syscall.RawConn.Read callback that waits until the
// read gets bytes, the end or an error (false: wait for readability).
func (op *readOp) readWaiting(fd uintptr) bool {
	op.read(fd)
	if op.rerr == syscall.EAGAIN {
		op.waited = true
		return false
	}
	return true
}

// opError is err as net.Conn's Read reports it.
func (c *Conn) opError(err error) error {
	return &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
