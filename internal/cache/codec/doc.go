// Package codec is the response cache's engine: the canonical form of a
// request that its key hashes (AppendCanonical), and the codec of the
// cached answers (Entry: Encode, Decode, EntryOf) with the conversions a
// replay needs between a stored body and a stored stream (DecodeResponse,
// DecodeChunks, RawChunks, and JoinedResponse: a stored stream's body
// joined from its raw chunks, the typed path's bytes without its decoding).
//
// Everything here is a pure function of its arguments: no I/O, no state.
// The answers are in the canonical form of the Chat Completions wire
// (internal/openai's types), or, for a format with no canonical form, in
// that format's own wire (Entry.Format). The cache stage and the
// recorders of the root package, and the backends' Cache interface, are
// elsewhere: a backend stores an encoded Entry as opaque bytes.
package codec
