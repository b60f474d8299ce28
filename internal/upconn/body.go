package upconn

import (
	"io"
	"sync/atomic"

	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
)

// NewBody wraps body, the response body of a request whose connection is
// conn (Of), so that each read arms conn with flush: flush runs when the
// read would wait for the upstream. A read during which flush failed ends
// with flush's error, whatever the transport made of it. Once a read
// returned an error (the body's end) the body arms nothing: the
// connection may carry another request by then.
func NewBody(body io.ReadCloser, conn *Conn, flush func() error) io.ReadCloser {
	b := &armedBody{ReadCloser: body, conn: conn}
	conn.paced.Store(false) // a new answer: read first, whatever the last one's pace
	b.flush = func() error {
		err := flush()
		if err != nil {
			b.failed.Store(&failure{err})
		}
		return err
	}
	return b
}

type armedBody struct {
	io.ReadCloser
	conn   *Conn
	flush  func() error            // armed on conn: flush, noting a failure
	failed atomic.Pointer[failure] // flush's error (it may run on another goroutine)
	ended  bool                    // a read returned an error: no more arming
}

type failure struct{ err error }

func (b *armedBody) Read(p []byte) (int, error) {
	if b.ended {
		return b.ReadCloser.Read(p)
	}
	b.conn.Arm(&b.flush)
	n, err := b.ReadCloser.Read(p)
	b.conn.Disarm(&b.flush)
	b.ended = err != nil
	if f := b.failed.Load(); f != nil {
		return n, f.err
	}
	return n, err
}

// EndStream hands the body beneath to its owner (endpoint.Link).
func (b *armedBody) EndStream() bool { return endpoint.PassEnd(b.ReadCloser) }

var _ endpoint.Ender = (*armedBody)(nil)
