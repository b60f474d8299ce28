// Package cache holds what the response cache's backends share: the
// Backend interface the server and the admin API use beside
// llmbridge.Cache (removing answers, reporting size and hit ratio), the
// Filter of a removal, and Stats. The backends are its subpackages:
// memory (the default, one process, bounded by bytes) and redis (shared
// by replicas).
package cache
