// Package openai holds the OpenAI Chat Completions wire types that the root
// package and the provider adapters share (the root re-exports them by
// alias), the error type every part of the bridge returns, and the few
// byte-level helpers used to look into OpenAI JSON without decoding it.
//
// Fidelity is the rule: every struct that mirrors a JSON object keeps the
// members it does not model in an Extra map and writes them back unchanged,
// so fields OpenAI adds next month survive a decode/encode round trip.
//
// The bridge and what decodes behind it read the same members: gjson
// (validation, routing, admission) matches names exactly and takes the
// first of duplicates, encoding/json (the typed decoders, Go upstreams)
// matches them under case folding and takes the last. CheckMembers refuses
// a body where the two could differ, and the decoders (DecodeWithExtra,
// DecodeExact) refuse to bind a member whose name differs from a field's
// only in case.
package openai
