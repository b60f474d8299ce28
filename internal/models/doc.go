// Package models decides which upstream serves a bare model name that no
// configured list names, so that models work the day their vendor ships
// them: the name patterns (families) each provider declares ("claude-*"),
// matched most-specific-first (Families), and the model lists the
// upstreams publish, fetched in the background, cached and refreshed
// (Catalog).
//
// It knows no wire format: providers build the list requests and decode
// the answers (Source); the Catalog does the I/O through each provider's
// own client, bounds what it reads and never lets a key reach a log.
package models
