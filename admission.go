package llmbridge

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// Admitter decides whether a request may proceed: who is calling, what
// they may call and whether their limits and budget allow it now.
//
// Admit is called once per request, after the client's body has been read
// and before any upstream work (routing, cache, provider). It returns a
// Ticket to settle once the request has finished, or an error that ends the
// request: an *APIError keeps its status, type, code, message and
// RetryAfter (401 for an unknown key, 403 for a model the key may not use,
// 429 for a limit); any other error becomes a 500 whose cause is logged,
// never shown. The error reaches the client in the client's own format.
// Admit may set r.KeyID to the caller's non-secret identity. It must be
// safe for concurrent use and should not block for long: it runs on the
// request path.
//
// Admitters added with WithAdmitter run in order, after the access-key
// check of WithAccessKeys; the first refusal ends the request. Every
// ticket returned is settled, also when a later admitter refuses.
type Admitter interface {
	Admit(ctx context.Context, r *Request) (Ticket, error)
}

// Ticket is an admitted request's reservation. Settle is called exactly
// once with the request's finished UsageRecord (real token usage, status,
// error), after the response is complete, on the request's goroutine and
// before the observers' End: release what Admit reserved and charge what
// was used. Settle must not block (hand slow work to a queue). A nil
// Ticket is allowed and means there is nothing to settle.
type Ticket interface {
	Settle(rec UsageRecord)
}

// HeaderTicket is implemented by tickets that add headers to the response
// (x-ratelimit-remaining-requests, …). Header is called once, after all
// admitters ran and before anything is written, also when a later admitter
// refused the request; an Admitter that refuses may return such a ticket
// together with its error so the refusal carries the headers too. It is
// not called for in-process requests.
type HeaderTicket interface {
	Ticket
	Header() http.Header
}

// TicketFunc adapts a function to a Ticket.
type TicketFunc func(rec UsageRecord)

// Settle calls f(rec).
func (f TicketFunc) Settle(rec UsageRecord) { f(rec) }

// AdmitterFunc adapts a function to an Admitter.
type AdmitterFunc func(ctx context.Context, r *Request) (Ticket, error)

// Admit calls f(ctx, r).
func (f AdmitterFunc) Admit(ctx context.Context, r *Request) (Ticket, error) { return f(ctx, r) }

// accessKeys is the admitter of WithAccessKeys: it compares the client's
// key against every access key in constant time (comparing SHA-256
// digests, so length leaks nothing either) and names the caller by the
// key's fingerprint. In-process calls are the program itself and pass.
type accessKeys struct {
	sums [][sha256.Size]byte
	ids  []string // KeyID of each, same order
}

func (a *accessKeys) Admit(_ context.Context, r *Request) (Ticket, error) {
	if r.InProcess() {
		return nil, nil
	}
	id, ok := a.match(r.Credential())
	if !ok {
		return nil, errUnauthorized()
	}
	r.KeyID = id
	return nil, nil
}

// match returns the fingerprint of the access key equal to key.
func (a *accessKeys) match(key string) (string, bool) {
	if key == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(key))
	found := -1
	for i := range a.sums {
		if subtle.ConstantTimeCompare(sum[:], a.sums[i][:]) == 1 {
			found = i // no early exit: every key is compared
		}
	}
	if found < 0 {
		return "", false
	}
	return a.ids[found], true
}

func errUnauthorized() *APIError {
	return &APIError{Status: http.StatusUnauthorized, Type: ErrorTypeInvalidRequest, Code: "invalid_api_key",
		Message: "Missing or invalid access key: send Authorization: Bearer <key> or x-api-key: <key>."}
}

// admit runs the admitters in order and keeps their tickets for settle.
func (c *call) admit() *APIError {
	for _, a := range c.b.admitters {
		t, err := a.Admit(c.ctx, &c.req)
		c.rec.KeyID = c.req.KeyID
		if t != nil {
			c.tickets = append(c.tickets, t)
		}
		if err != nil {
			return c.ownError("admission", err)
		}
	}
	return nil
}

// ticketHeader merges the headers of the tickets that have some.
func (c *call) ticketHeader() http.Header {
	var h http.Header
	for _, t := range c.tickets {
		if ht, ok := t.(HeaderTicket); ok {
			for k, v := range ht.Header() {
				if h == nil {
					h = http.Header{}
				}
				h[k] = v
			}
		}
	}
	return h
}

// settle hands the finished record to every ticket.
func (c *call) settle() {
	for _, t := range c.tickets {
		c.safely(func() { t.Settle(c.rec) })
	}
}
