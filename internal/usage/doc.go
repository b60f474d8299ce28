// Package usage keeps what the bridge's requests used and cost: a Store
// (SQLite by default, pure Go; PostgreSQL for several instances) with
// one row per request and daily rollups that Report sums, a Writer that
// is the bridge's usage sink (batched, off the request path, spooling
// while the database is down), and the built-in and configured Prices.
// The admin API over the store (/admin/api/usage, /admin/api/requests)
// and the report formats are in internal/admin.
//
// It implements the root package's usage-sink contract and imports the
// root; the root never imports it. The server wires it.
package usage
