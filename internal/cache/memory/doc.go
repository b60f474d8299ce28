// Package memory is the response cache's in-process backend: a
// W-TinyLFU cache (github.com/maypok86/otter/v2) bounded by the bytes of
// its answers, each kept for the TTL it was stored with. It is the
// default when the cache is configured without Redis.
package memory
