// Package memory is the response cache's in-process backend: answers in
// rings of bytes mapped outside the Go heap (on Unix, without the race
// detector), one per shard, with an index from each answer's hash to its
// place in its ring. Neither holds a pointer, so the collector's work
// does not grow with the answers the cache holds. The cache is bounded by
// its answers' bytes; the oldest answer is evicted first unless it is
// read while next in line, and each is kept for the TTL it was stored
// with. It is the default when the cache is configured without Redis.
package memory
