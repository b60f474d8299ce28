package providertest

import (
	"io"
	"sync/atomic"
)

// CountingBody is an http.Response body that counts its Close calls, for
// checking that a provider closes a body exactly once. Reads go to the
// embedded Reader; Close only counts (it does not close the Reader) and
// returns nil. Close and Closes may be called from any goroutine.
//
// The suite wraps every response body in a CountingBody; provider authors
// can use it the same way in their own tests:
//
//	body := providertest.NewCountingBody(strings.NewReader(data))
//	p.DecodeError(&http.Response{StatusCode: 500, Header: http.Header{}, Body: body})
//	if body.Closes() != 1 { … }
type CountingBody struct {
	// Reader is what the body reads from.
	io.Reader
	closes atomic.Int32
}

// NewCountingBody returns a CountingBody that reads from r and has not
// been closed.
func NewCountingBody(r io.Reader) *CountingBody { return &CountingBody{Reader: r} }

// Close counts the call and returns nil.
func (b *CountingBody) Close() error { b.closes.Add(1); return nil }

// Closes returns how many times Close has been called.
func (b *CountingBody) Closes() int { return int(b.closes.Load()) }
