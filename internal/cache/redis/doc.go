// Package redis is the response cache's shared backend: answers kept in
// Redis (go-redis) so every replica pointing at the same server
// (LLMBRIDGE_REDIS_URL) answers the others' repeats. Values of more than
// a few hundred bytes are compressed (DEFLATE); the TTL is Redis's own
// (SET … PX). Keys are
//
//	llmbridge:cache:v1:{scope}:{model}:{hash}
//
// with scope and model percent-encoded so neither holds a ':' or a glob
// character, which lets Purge select them with SCAN MATCH.
//
// Redis being down never fails a request: a failed command is a miss (or
// an answer not stored), the outage is logged once (and the recovery),
// and for a second after a failure the cache does not call Redis at all,
// so a dead server costs nothing but the first command's time, bounded by
// the caller's context (the bridge's 50 ms budget).
package redis
