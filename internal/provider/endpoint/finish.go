package endpoint

import (
	"io"
	"time"
)

// FinishBody closes the body of an upstream stream that reached its last
// event (a "data: [DONE]", a message_stop, a finish reason), after reading
// what is left of it: the upstream's own end of the body — HTTP/1.1's last
// chunk, HTTP/2's END_STREAM — which follows that event, usually within
// microseconds but not always in the same read. A body closed before its
// end is read costs its connection: net/http's HTTP/1 transport closes
// the connection rather than pool it, so the next request pays a new TCP
// (and TLS) handshake, and HTTP/2 resets the stream. What is left is read
// up to FinishBytes, for at most FinishWait; an upstream that sends more,
// or does not end its body, loses its connection as before.
//
// A stream cut short (an error, the client gone) is closed at once
// instead, which is what stops the upstream's work.
//
// It closes body once, as a stream decoder's caller expects of it.
func FinishBody(body io.ReadCloser) {
	if AtEOF(body) {
		body.Close()
		return
	}
	closed := make(chan struct{})
	t := time.AfterFunc(FinishWait, func() { body.Close(); close(closed) }) // ends a Read that waits
	_, _ = io.CopyN(io.Discard, body, FinishBytes)
	if t.Stop() {
		body.Close()
	} else {
		<-closed // the timer closed it: closed on return all the same
	}
}

// EOFer is a body that can tell whether a Read has returned its end
// (io.EOF): h1's bodies can. A stream body usually has, by the time its
// last event is read: HTTP/1.1's last chunk tends to arrive in the same
// read as the event before it.
type EOFer interface {
	AtEOF() bool
}

// AtEOF reports whether body is an EOFer that has returned its end:
// finishing it then needs neither a read nor a wait.
func AtEOF(body io.Reader) bool {
	e, ok := body.(EOFer)
	return ok && e.AtEOF()
}

// Ender is a stream body whose owner reads its end and closes it: the
// bridge's, which does so on another goroutine, so that nothing waits
// for the upstream's end of the body. EndStream reports false when the
// owner does not take the body over (its request was cancelled); the
// body is then closed as any other.
type Ender interface {
	EndStream() bool
}

// EndBody is what a stream decoder calls when it reached the stream's
// last event, instead of closing the body: the body's owner takes it over
// when it is an Ender, and FinishBody reads its end and closes it
// otherwise. Either way the caller neither reads nor closes it after.
func EndBody(body io.ReadCloser) {
	if e, ok := body.(Ender); ok && e.EndStream() {
		return
	}
	FinishBody(body)
}

// FinishWait bounds how long FinishBody waits for the end of a body.
const FinishWait = 50 * time.Millisecond

// FinishBytes bounds what FinishBody reads of a body past its last event.
const FinishBytes = 4 << 10
