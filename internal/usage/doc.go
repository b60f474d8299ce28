// Package usage keeps and reports what the bridge's requests used and
// cost: a Store (SQLite by default, pure Go; PostgreSQL for several
// instances) with one row per request and daily rollups, a Writer that is
// the bridge's usage sink (batched, off the request path, spooling while
// the database is down), the built-in and configured Prices, and the
// admin API (/admin/api/usage, /admin/api/requests) over it.
//
// It implements the root package's usage-sink contract and imports the
// root; the root never imports it. The server wires it.
package usage
