// Package reqbody keeps request bodies from outliving their use. Hold
// lets the bridge drop an upstream request's body once it has been sent:
// an upstream request for a 100 kB prompt is a 100 kB buffer that
// http.Request keeps reachable twice (the Body reader and the GetBody
// closure) for as long as the response is read, a whole stream, even one
// whose client stopped reading. Read reads a client's body into one
// buffer of the size it declared; Fit trims one that grew by doubling.
package reqbody

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// Hold wraps req's Body and GetBody; the returned release, called once
// the response arrived (no retry of the transport's can need GetBody any
// more), forgets GetBody. The Body forgets its reader when the transport
// closes it, which it does once it has written it.
//
// A body of at most Small bytes (or of unknown length) is left alone: the
// transport sends the headers and an in-memory body it recognises in one
// write, and a wrapped one in two, which costs a small request more than
// its buffer is worth.
func Hold(req *http.Request) (release func()) {
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength <= Small {
		return func() {}
	}
	h := &held{get: req.GetBody}
	req.Body = newBody(req.Body)
	if req.GetBody != nil {
		req.GetBody = h.getBody
	}
	return h.release
}

// Small is the largest body Hold leaves alone. Above the transport's 4 KiB
// write buffer, a body takes several writes anyway.
const Small = 16 << 10

// held is a request's GetBody until release.
type held struct {
	mu  sync.Mutex
	get func() (io.ReadCloser, error)
}

func (h *held) getBody() (io.ReadCloser, error) {
	h.mu.Lock()
	get := h.get
	h.mu.Unlock()
	if get == nil {
		return nil, errReleased
	}
	rc, err := get()
	if err != nil {
		return nil, err
	}
	return newBody(rc), nil
}

func (h *held) release() {
	h.mu.Lock()
	h.get = nil
	h.mu.Unlock()
}

// body is a request body that drops its reader on Close. Read and Close
// may come from different goroutines (the transport's writer and a
// cancellation), as with any request body; Close never waits for a Read.
type body struct {
	rc atomic.Pointer[io.ReadCloser]
}

func newBody(rc io.ReadCloser) *body {
	b := &body{}
	b.rc.Store(&rc)
	return b
}

func (b *body) Read(p []byte) (int, error) {
	rc := b.rc.Load()
	if rc == nil {
		return 0, errReleased
	}
	return (*rc).Read(p)
}

func (b *body) Close() error {
	if rc := b.rc.Swap(nil); rc != nil {
		return (*rc).Close()
	}
	return nil
}

// errReleased: the body was read after it was closed, or GetBody called
// after the response arrived.
var errReleased = errors.New("reqbody: the request body was already sent and released")

// Fit returns b in a slice of its own length when it leaves more than a
// quarter of its capacity unused (a client's body read into a buffer that
// grew by doubling, as it does for a caller no key vouched for): the body
// lives as long as its call, a stream's whole life.
func Fit(b []byte) []byte {
	if cap(b)-len(b) <= len(b)/4 {
		return b
	}
	return append(make([]byte, 0, len(b)), b...)
}

// Read reads r to its end into a buffer of hint bytes (and one more, to
// see the end without growing), grown by doubling only when the body is
// longer (a length not declared, or not trusted to size the buffer),
// and trimmed then (Fit). A body of the length it declared costs one
// allocation and no copy. bytes.Buffer.ReadFrom makes room for 512 more
// bytes before every read: a small body's exact buffer was reallocated
// at its end and Fit copied it back (three allocations for a chat
// request's body), and a large one read a quarter slower.
func Read(r io.Reader, hint int) ([]byte, error) {
	b := make([]byte, 0, max(hint, minRead)+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // doubles
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return Fit(b), err
		}
	}
}

// minRead is Read's buffer for a body of unknown length.
const minRead = 512
