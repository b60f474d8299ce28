// Package admin is the bridge's admin HTTP API over the usage store
// (internal/usage): the usage reports (/admin/api/usage, as JSON or CSV)
// and the stored requests (/admin/api/requests), behind the admin key,
// and the presentation formats of a report — its JSON, CSV and text
// table — that the API and the server's usage command share.
//
// Every request passes one guard (API.Guard, and ServeHTTP through it):
// the admin key or a signed-in UI session, then the caller's Role —
// admin, viewer (reads only), member (their own virtual keys only,
// KeyScope) — refused 403 in the OpenAI error format otherwise; the
// caller's Principal is in the request's context (PrincipalFrom).
//
// The usage store, its schema and its drivers stay in internal/usage;
// this package only reads it. The server wires it.
package admin
