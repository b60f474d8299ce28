//go:build !unix

package upconn

// canWatch: this platform's connections are not watched (Wrap leaves
// them as they are).
const canWatch = false

// readArmed is never reached here: Wrap makes no Conn.
func (c *Conn) readArmed(p []byte) (int, error) { return c.Conn.Read(p) }
