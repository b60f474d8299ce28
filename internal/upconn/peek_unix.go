//go:build unix && !aix

package upconn

import "syscall"

// CanPeek reports whether Idle can tell, on this platform, that a
// connection's peer has closed it or sent something.
const CanPeek = canWatch

// Idle reports whether a read of c would wait: nothing has come on it,
// not even the peer's closing it. A pool asks before it reuses c; the
// one system call looks without taking anything. Not safe for use
// concurrently with itself.
func (c *Conn) Idle() bool {
	if c.peek == nil {
		c.peek = c.peekOnce
	}
	c.peekIdle = false
	return c.raw.Read(c.peek) == nil && c.peekIdle
}

// peekOnce is Idle's syscall.RawConn.Read callback: one peek that never
// waits.
func (c *Conn) peekOnce(fd uintptr) bool {
	var b [1]byte
	for {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err != syscall.EINTR {
			c.peekIdle = err == syscall.EAGAIN
			return true
		}
	}
}
