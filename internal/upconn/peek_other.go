//go:build !unix || aix

package upconn

// CanPeek reports whether Idle can tell, on this platform, that a
// connection's peer has closed it or sent something: not here (no
// MSG_DONTWAIT).
const CanPeek = false

// Idle reports true: this platform cannot look without waiting.
func (c *Conn) Idle() bool { return true }
