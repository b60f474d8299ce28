// Package corpus generates Chat Completions request bodies for the tests of
// request validation: valid bodies that together use every member the
// OpenAI API documents (with good values, edge values, nulls and members
// nobody documents), and malformed bodies with exactly one fault each and
// the parameter an OpenAI-style error must name for it. Malformed bodies
// are every documented member with values of the wrong type or out of
// range, broken messages, content parts, tools and tool calls at random
// positions, invalid UTF-8 in every string, truncations, and random byte
// mutations of the valid bodies. Generation is deterministic for a seed,
// so a failure can be reproduced by its case name.
//
// It is test support: nothing outside tests imports it.
package corpus
