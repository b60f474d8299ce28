// Package keys is the bridge's admission stage for teams: virtual keys
// kept in the usage store (internal/usage), limits per key (requests and
// tokens per minute, requests in flight) and budgets in USD per day and
// month, for virtual keys and for the static ACCESS_API_KEYS alike.
//
// An Admitter (a llmbridge.Admitter) recognises the caller's key, checks
// the model against the key's allowed models and reserves the request
// against the key's limits in one atomic step: in process (exact: 1,000
// concurrent requests against RPM=100 admit exactly 100), or in Redis
// with Lua scripts when several replicas share the limits. When Redis
// cannot be reached the Admitter keeps serving with per-instance limits
// (each limit divided by the expected number of replicas), says so in
// the log and in Status, and returns to Redis by itself.
//
// A Team (team.go) groups virtual keys under limits, budgets and models
// of its own that hold on top of each key's: Admit reserves a request
// against the key and its team together (teamadmit.go) — in process under
// both locks, in Redis in one script run — so a request is admitted by
// both or reserved on neither. Teams live in the same store (migration
// 0006); a key names its team by id (Key.TeamID), and its owner
// (Key.Owner) is the person using it: Store.ListWhere lists one owner's
// keys, and Admitter.Attribution gives every usage record its team and
// user.
//
// A budget can only count what has a price: a key with a budget is
// refused models without one (403 model_not_priced) rather than using
// them for free, and creating or changing such a key warns about the
// known models its patterns cover that have no price (Catalog).
//
// Secrets are shown once, when a key is created ("sk-lb-" and 43
// characters); the store keeps only their SHA-256 and last four
// characters. A change made through the admin API holds on that
// instance before the API answers (Admitter.Changed); with Redis, the
// other replicas hear of it at once over pub/sub (channel <prefix>keys);
// and every replica polls the store's key version as the fallback (a
// missed message, a change from the CLI), so a revocation takes effect
// everywhere within a second.
//
// A key's mcp_servers (Policy.MCPServers) say which servers of the MCP
// gateway (internal/mcpgw, /mcp) it may use; the gateway tells callers
// apart with Identify, the same check as Authenticate.
//
// The package imports the root, internal/usage and internal/alerts (the
// budget alert's input, AlertBudgets); none of them imports it.
// The server wires it (server/limits.go); the admin API
// (internal/admin/keys.go) and the server's "keys" command manage keys
// through Store.
package keys
