// Package h1 is the bridge's transport for plain-HTTP upstreams (a model
// server on the host or the local network: Ollama, vLLM, llama.cpp, a
// sidecar): an http.RoundTripper that speaks HTTP/1.1 over pooled
// connections and reads each answer on the goroutine that reads it.
//
// net/http's Transport keeps two goroutines a connection, one that writes
// requests and one that reads answers and hands them over, and a 4 KiB
// write buffer. A gateway holding a thousand streams holds two thousand
// such goroutines and their stacks, and every request and every answer's
// end is a hand-over between goroutines. Here the caller writes its
// request from a pooled buffer and reads the answer's header, the body's
// reader reads the body, and nothing runs while a connection waits. The
// wire work is net/http's own (Request.Write, ReadResponse); what is
// written here is the pool and a connection's life.
//
// What it leaves to net/http's Transport (Or routes it there): https
// (TLS, HTTP/2) and proxies. It asks for no compression, so an answer is
// read as the upstream sent it. Of httptrace's hooks it calls GetConn,
// GotConn, PutIdleConn, WroteRequest, GotFirstResponseByte and
// Got1xxResponse; the dialler calls the DNS and Connect ones.
//
// With no goroutine reading an idle connection, a server's closing one is
// seen when the connection is next taken (a peek: upconn.Conn.Idle) or at
// IdleTimeout; until then the socket waits in CLOSE_WAIT, at most
// MaxIdlePerHost a host.
package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Transport sends http:// requests over HTTP/1.1, keeping connections
// for reuse. Its zero value is not usable: Dial must be set. It is safe
// for concurrent use.
type Transport struct {
	// Dial opens a connection to addr ("host:port") on network "tcp".
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxIdlePerHost bounds the idle connections kept a host (0: 2, as
	// net/http's default).
	MaxIdlePerHost int
	// IdleTimeout closes a connection that has been idle this long (0:
	// never).
	IdleTimeout time.Duration

	mu   sync.Mutex
	idle map[string][]*conn // by host:port, most recently used last
	gen  uint64             // CloseIdleConnections' count: an older connection is closed, not kept
}

// MaxHeaderBytes bounds an answer's header, 1xx answers' included: an
// upstream that sends an endless header ends its request with an error,
// not the bridge's memory.
const MaxHeaderBytes = 1 << 20

// ErrHeaderTooLong is the error of an answer whose header passes
// MaxHeaderBytes.
var ErrHeaderTooLong = errors.New("h1: the upstream's response header is longer than 1 MiB")

// errScheme is RoundTrip's error for a request that is not http://.
var errScheme = errors.New("h1: only http:// requests")

// max1xx bounds the informational answers read before the final one.
const max1xx = 5

// RoundTrip sends req and returns its answer, whose body reads from the
// connection. The connection goes back to the pool once the body has been
// read to its end; closed before, it is closed. Cancelling req's context
// ends a wait for the answer or a read of its body with the context's
// cause.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := check(req); err != nil {
		closeBody(req)
		return nil, err
	}
	ctx := req.Context()
	trace := httptrace.ContextClientTrace(ctx)
	key := hostPort(req.URL)
	orig := req
	for try := 0; ; try++ {
		if err := ctx.Err(); err != nil {
			closeBody(req)
			return nil, context.Cause(ctx)
		}
		c, err := t.get(ctx, key, trace)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := c.roundTrip(req, trace)
		if err == nil {
			resp.Request = orig
			return resp, nil
		}
		if try == 2 || !c.retryable(req, err) {
			return nil, err
		}
		// A connection the server had closed while it was idle: the
		// request never reached it, so it goes again on another one.
		body, gerr := rewind(req)
		if gerr != nil {
			return nil, err
		}
		r := *req // a RoundTripper leaves its request as it is
		r.Body = body
		req = &r
	}
}

// CloseIdleConnections closes the idle connections; one in use is closed
// when its answer has been read, rather than kept.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.gen++
	t.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.close()
		}
	}
}

// Or returns a RoundTripper that sends http:// requests through t and
// every other one through other.
func (t *Transport) Or(other http.RoundTripper) http.RoundTripper {
	return &either{plain: t, other: other}
}

type either struct {
	plain *Transport
	other http.RoundTripper
}

func (e *either) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL != nil && req.URL.Scheme == "http" {
		return e.plain.RoundTrip(req)
	}
	return e.other.RoundTrip(req)
}

// check refuses what net/http's Transport refuses before it sends: a URL
// without a host, a method or header that is not a token, a header value
// with a control character (which would split the header).
func check(req *http.Request) error {
	switch {
	case req.URL == nil:
		return errors.New("h1: request without a URL")
	case req.URL.Scheme != "http":
		return errScheme
	case req.URL.Host == "":
		return errors.New("h1: request without a host")
	case req.Method != "" && !isToken(req.Method):
		return fmt.Errorf("h1: invalid method %q", req.Method)
	}
	for k := range req.Trailer {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("h1: invalid trailer field name %q", k)
		}
	}
	for k, vs := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("h1: invalid header field name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("h1: invalid header field value for %q", k) // never the value: it may be a key
			}
		}
	}
	return nil
}

func isToken(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return !httpguts.IsTokenRune(r) }) < 0
}

// hostPort is u's host with its port, 80 when it has none.
func hostPort(u *url.URL) string {
	p := u.Port()
	if p == "" {
		p = "80"
	}
	return net.JoinHostPort(u.Hostname(), p)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// rewindable reports whether req's body can be had again (rewind).
func rewindable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// rewind returns a fresh body for req's second try.
func rewind(req *http.Request) (io.ReadCloser, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, nil
	}
	if req.GetBody == nil {
		return nil, errors.New("h1: the request body cannot be sent again")
	}
	return req.GetBody()
}

// get returns an idle connection to key that the server has not closed,
// or a new one.
func (t *Transport) get(ctx context.Context, key string, trace *httptrace.ClientTrace) (*conn, error) {
	if trace != nil && trace.GetConn != nil {
		trace.GetConn(key)
	}
	for {
		c := t.pop(key)
		if c == nil {
			break
		}
		if !c.usable() {
			c.close()
			continue
		}
		if trace != nil && trace.GotConn != nil {
			trace.GotConn(httptrace.GotConnInfo{Conn: c.nc, Reused: true, WasIdle: true, IdleTime: time.Since(c.idleAt)})
		}
		return c, nil
	}
	nc, err := t.Dial(ctx, "tcp", key)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	t.mu.Lock()
	gen := t.gen
	t.mu.Unlock()
	c := &conn{t: t, nc: nc, key: key, gen: gen}
	c.abort = c.abortWaits
	c.src = limited{r: nc, n: math.MaxInt64}
	c.br = bufio.NewReaderSize(&c.src, 4<<10)
	if trace != nil && trace.GotConn != nil {
		trace.GotConn(httptrace.GotConnInfo{Conn: nc})
	}
	return c, nil
}

// pop takes the most recently used idle connection to key.
func (t *Transport) pop(key string) *conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	cs := t.idle[key]
	if len(cs) == 0 {
		return nil
	}
	c := cs[len(cs)-1]
	cs[len(cs)-1] = nil
	t.idle[key] = cs[:len(cs)-1]
	if c.timer != nil {
		c.timer.Stop()
	}
	c.reused = true
	return c
}

// put keeps c for the next request to its host, or closes it: the pool
// is full, or CloseIdleConnections came since c was dialled.
func (t *Transport) put(c *conn) {
	c.idleAt = time.Now()
	t.mu.Lock()
	max := t.MaxIdlePerHost
	if max <= 0 {
		max = 2
	}
	if c.gen != t.gen || len(t.idle[c.key]) >= max {
		t.mu.Unlock()
		c.close()
		return
	}
	if t.idle == nil {
		t.idle = make(map[string][]*conn)
	}
	t.idle[c.key] = append(t.idle[c.key], c)
	if t.IdleTimeout > 0 {
		if c.timer == nil {
			c.timer = time.AfterFunc(t.IdleTimeout, c.expire)
		} else {
			c.timer.Reset(t.IdleTimeout)
		}
	}
	t.mu.Unlock()
}

// conn is one connection: idle in the pool, or carrying one request.
type conn struct {
	t      *Transport
	nc     net.Conn
	src    limited // what br reads: the connection, bounded while a header is read
	br     *bufio.Reader
	key    string
	gen    uint64
	reused bool        // it carried a request before this one
	idleAt time.Time   // when it went idle
	timer  *time.Timer // IdleTimeout, from idleAt
	wrote  bool        // this request's first byte went out
	werr   error       // the connection's write error, this request
	// writing is a large body's writer's result, nil when the request was
	// written before its answer was read (exchange).
	writing chan error
	abort   func() // abortWaits, made once
	closed  atomic.Bool
}

// expire closes c when it is still idle at its idle timeout.
func (c *conn) expire() {
	t := c.t
	t.mu.Lock()
	cs := t.idle[c.key]
	found := false
	for i, x := range cs {
		if x == c {
			t.idle[c.key] = append(cs[:i], cs[i+1:]...)
			cs[len(cs)-1] = nil
			found = true
			break
		}
	}
	t.mu.Unlock()
	if found {
		c.close()
	}
}

func (c *conn) close() {
	if c.closed.CompareAndSwap(false, true) {
		if c.timer != nil {
			c.timer.Stop()
		}
		c.nc.Close()
	}
}

// usable reports whether an idle c may carry a request: nothing came on
// it while it was idle, not even the server's closing it.
func (c *conn) usable() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	p, ok := c.nc.(interface{ Idle() bool })
	return !ok || p.Idle()
}

// abortWaits makes every wait on c end at once (the request's context
// ended).
func (c *conn) abortWaits() { c.nc.SetDeadline(aLongTimeAgo) }

var aLongTimeAgo = time.Unix(1, 0)

// writers are the buffers requests are written through: a request's
// header and a small body leave in one write.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}

// roundTrip writes req on c and reads the answer's header. On an error c
// is closed.
func (c *conn) roundTrip(req *http.Request, trace *httptrace.ClientTrace) (*http.Response, error) {
	ctx := req.Context()
	stop := context.AfterFunc(ctx, c.abort)
	resp, err := c.exchange(req, trace)
	if err != nil {
		stop()
		c.close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	closeAfter := resp.Close || req.Close || resp.StatusCode == http.StatusSwitchingProtocols ||
		httpguts.HeaderValuesContainsToken(req.Header["Connection"], "close")
	if resp.Body == http.NoBody {
		c.done(stop, !closeAfter, trace)
		return resp, nil
	}
	resp.Body = &body{c: c, rc: resp.Body, ctx: ctx, stop: stop, keep: !closeAfter, trace: trace}
	return resp, nil
}

// exchange writes req and reads the final answer's header. A body
// larger than inlineBody, or of unknown length, is written by a goroutine
// of its own while the answer is read: an upstream may answer (refuse it)
// before it has read it, and then never read the rest.
func (c *conn) exchange(req *http.Request, trace *httptrace.ClientTrace) (*http.Response, error) {
	c.wrote, c.werr, c.writing = false, nil, nil
	if !largeBody(req) {
		if err := c.write(req, trace); err != nil {
			if c.werr != nil && c.wrote && req.Context().Err() == nil {
				if resp := c.earlyAnswer(req); resp != nil {
					return resp, nil
				}
			}
			return nil, err
		}
		return c.readAnswer(req, trace)
	}
	writing := make(chan error, 1)
	go func() { writing <- c.write(req, trace) }()
	resp, err := c.readAnswer(req, trace)
	if err != nil {
		c.close() // the writer's wait ends with it
		<-writing // and c.wrote is read after it
		return nil, err
	}
	c.writing = writing
	return resp, nil
}

// inlineBody is the largest request body written before the answer is
// read, on the caller's goroutine: one that fits the kernel's socket
// buffers whether the upstream reads it or not.
const inlineBody = 64 << 10

func largeBody(req *http.Request) bool {
	return req.ContentLength > inlineBody || req.ContentLength == 0 && req.Body != nil && req.Body != http.NoBody
}

// write writes req to c, through a pooled buffer: its header and a small
// body leave in one write.
func (c *conn) write(req *http.Request, trace *httptrace.ClientTrace) error {
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(writeCounter{c})
	err := req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	writers.Put(bw)
	if trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{Err: err})
	}
	return err
}

// written reports whether the request's write ended, and well (always,
// for one written before its answer was read).
func (c *conn) written() bool {
	if c.writing == nil {
		return true
	}
	select {
	case err := <-c.writing:
		c.writing = nil
		return err == nil
	default:
		return false // c is closed, and the writer's wait ends with it
	}
}

// readAnswer reads the final answer's header, passing informational ones
// to the trace.
func (c *conn) readAnswer(req *http.Request, trace *httptrace.ClientTrace) (*http.Response, error) {
	c.src.n = MaxHeaderBytes
	defer func() { c.src.n = math.MaxInt64 }()
	if _, err := c.br.Peek(1); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nothingRead{err}
	}
	if trace != nil && trace.GotFirstResponseByte != nil {
		trace.GotFirstResponseByte()
	}
	for n := 0; ; n++ {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			if errors.Is(err, errLimit) || c.src.n <= 0 {
				return nil, ErrHeaderTooLong
			}
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
		if n == max1xx {
			return nil, fmt.Errorf("h1: more than %d informational answers", max1xx)
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, err
			}
		}
	}
}

// earlyAnswer reads the answer an upstream sent before it had read all
// of req and then closed the connection, which is what failed the write:
// a body too large, refused at once (net/http's server does so). nil when
// no answer came within earlyWait. The connection is not kept after it.
func (c *conn) earlyAnswer(req *http.Request) *http.Response {
	c.nc.SetReadDeadline(time.Now().Add(earlyWait))
	resp, err := c.readAnswer(req, nil)
	if err != nil {
		return nil
	}
	c.nc.SetReadDeadline(time.Time{})
	if req.Context().Err() != nil {
		c.abortWaits() // what clearing the deadline may have undone
	}
	resp.Close = true
	return resp
}

// earlyWait bounds earlyAnswer's wait: an answer sent before the
// connection ended is there already.
const earlyWait = 100 * time.Millisecond

// retryable reports whether err, the failure of req on c, came from a
// connection the server had closed while it was idle, before it could
// take req: c was reused, and either nothing of req was written, or req
// is one the server may be sent twice and the connection ended before a
// byte of the answer (as net/http's Transport decides).
func (c *conn) retryable(req *http.Request, err error) bool {
	if !c.reused || req.Context().Err() != nil {
		return false
	}
	if !c.wrote {
		return rewindable(req)
	}
	var nr nothingRead
	return replayable(req) && errors.As(err, &nr)
}

// nothingRead is the failure of a read of an answer that got no byte of
// it: the connection's end, or its reset.
type nothingRead struct{ err error }

func (e nothingRead) Error() string {
	return "h1: the upstream closed the connection before it answered: " + e.err.Error()
}
func (e nothingRead) Unwrap() error { return e.err }

// replayable is net/http's Request.isReplayable: an idempotent method, or
// an idempotency key, and a body that can be had again.
func replayable(req *http.Request) bool {
	if !rewindable(req) {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}

// done ends c's request: c goes back to the pool when keep and its
// context never ended, else it is closed.
func (c *conn) done(stop func() bool, keep bool, trace *httptrace.ClientTrace) {
	if !stop() || !keep || !c.written() || c.br.Buffered() > 0 {
		c.close()
		return
	}
	if trace != nil && trace.PutIdleConn != nil {
		trace.PutIdleConn(nil)
	}
	c.t.put(c)
}

// writeCounter writes to c's connection, noting that a byte went out,
// and the connection's own failure (not the body's).
type writeCounter struct{ c *conn }

func (w writeCounter) Write(p []byte) (int, error) {
	n, err := w.c.nc.Write(p)
	if n > 0 {
		w.c.wrote = true
	}
	if err != nil {
		w.c.werr = err
	}
	return n, err
}

// limited reads from r at most n bytes; past them, errLimit.
type limited struct {
	r io.Reader
	n int64
}

var errLimit = errors.New("h1: read limit")

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errLimit
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// body is an answer's body on c: read to its end, it gives c back to the
// pool; closed before, it closes c. Close may come from another goroutine
// than Read, and never waits for it.
type body struct {
	c     *conn
	rc    io.ReadCloser // ReadResponse's body, never closed: that would read it to its end
	ctx   context.Context
	stop  func() bool
	keep  bool
	trace *httptrace.ClientTrace
	ended atomic.Bool
	err   error // what Read returns once ended by Read
}

func (b *body) Read(p []byte) (int, error) {
	if b.ended.Load() {
		if b.err != nil {
			return 0, b.err
		}
		return 0, errClosed
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		if b.ended.CompareAndSwap(false, true) {
			b.err = io.EOF
			b.c.done(b.stop, b.keep, b.trace)
		}
	case err != nil:
		if b.ctx.Err() != nil {
			err = context.Cause(b.ctx)
		}
		if !b.ended.CompareAndSwap(false, true) {
			return n, errClosed // Close ended the read
		}
		b.err = err
		b.stop()
		b.c.close()
	}
	return n, err
}

// AtEOF reports whether Read has returned the body's end (io.EOF), which
// was c's end of this answer (back to the pool when it may be kept,
// closed otherwise): what is left to do with the body is Close, which
// then does nothing. Only the goroutine that reads may ask.
func (b *body) AtEOF() bool { return b.ended.Load() && b.err == io.EOF }

// errClosed is a read of a body closed before its end.
var errClosed = errors.New("h1: read on a closed response body")

func (b *body) Close() error {
	if b.ended.CompareAndSwap(false, true) {
		b.stop()
		b.c.close()
	}
	return nil
}
