// Package demo is LLM Bridge's built-in demo provider: a Provider that
// answers deterministically without any provider key, so a new user sees
// the bridge work (a stream, a tool call, an error, a usage record) in the
// first minute.
//
// It has two halves. Provider is an ordinary client of an upstream that
// speaks OpenAI's Chat Completions wire format: it builds the request and
// decodes the response, and the Bridge does the I/O, as for any provider.
// Upstream is that upstream: an http.Handler that echoes the last user
// message back (streamed word by word with a configurable delay), counts
// usage with the bridge's tokenizer, calls a tool when the request offers
// tools and the message asks for one, and answers the models "error-429"
// and "error-500" with those errors in OpenAI's shape.
//
// A Provider without a BaseURL brings its own Upstream: it serves it on a
// loopback port it opens on the first request, behind a random key, and
// Close shuts it down. With a BaseURL it talks to any OpenAI-compatible
// upstream instead, which is how the provider conformance suite checks it.
package demo
