package llmbridge

import (
	"errors"
	"net/http"
)

// errStopped: the in-process caller stopped ranging over the stream.
var errStopped = errors.New("the caller stopped reading the stream")

// callerOutput answers an in-process caller: the response and error of
// ChatCompletion, or the pairs yielded by ChatCompletionStream.
type callerOutput struct {
	resp  *ChatResponse
	err   error
	yield func(*ChatChunk, error) bool // set for streams
}

func (o *callerOutput) header(http.Header) {}

func (o *callerOutput) reset() {}

func (o *callerOutput) fail(_ *call, e *APIError) {
	if o.yield != nil {
		o.yield(nil, e)
		return
	}
	o.err = e
}

func (o *callerOutput) response(c *call, r *ChatResponse) {
	c.observeFirstByte()
	o.resp = r
}

func (o *callerOutput) stream(c *call, _ *http.Response) streamEncoder {
	return &callerStream{c: c, yield: o.yield}
}

// native cannot happen in-process (there are no client bytes to pass
// through); it is answered as the bridge's own failure.
func (o *callerOutput) native(c *call, resp *http.Response) {
	resp.Body.Close()
	o.fail(c, c.ownError("relay", errors.New("pass-through relay without client bytes")))
}

// callerStream yields canonical chunks with the usage rules of splitUsage.
type callerStream struct {
	c     *call
	yield func(*ChatChunk, error) bool
}

func (s *callerStream) chunk(ch *ChatChunk) error {
	for _, out := range splitUsage(ch, s.c.env.includeUsage) {
		s.c.observeFirstByte()
		if !s.yield(out, nil) {
			return errStopped
		}
	}
	return nil
}

func (s *callerStream) end(err error) {
	switch {
	case err == nil:
	case errors.Is(err, errStopped):
		s.c.note(&APIError{Status: StatusClientClosedRequest, Message: errStopped.Error()})
	default:
		if e := s.c.fail(err); !s.c.failOver(e) {
			s.yield(nil, e)
		}
	}
}
