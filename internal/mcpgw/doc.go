// Package mcpgw is the bridge's MCP gateway: one Streamable HTTP endpoint
// (/mcp) in front of the team's MCP servers, behind the same keys as the
// model API.
//
// A Gateway aggregates the tools, prompts and resources of every
// configured server under "<server>__<name>" (resources under
// "llmbridge://<server>/<escaped uri>"), routes each call to the server
// that owns it, and passes progress notifications, cancellation and
// errors through. Upstream servers are reached with the official Go SDK
// (github.com/modelcontextprotocol/go-sdk): stdio servers are child
// processes the Gateway starts on first use, restarts with backoff after
// a crash and stops on Close; Streamable HTTP servers get the headers
// (credentials) of the configuration, which never reach a client or a
// log. The server side is the SDK's StreamableHTTPHandler.
//
// Who may use which server is decided per request by the Authenticate
// function the Gateway is given (the server wires internal/keys: access
// keys and virtual keys with their mcp_servers patterns). A session
// belongs to the key that opened it: another key presenting its id is
// refused (403). Every tool call is counted: metrics
// (llmbridge_mcp_tool_calls_total, llmbridge_mcp_tool_call_duration_seconds),
// the Call observers the Gateway is given (usage store, live feed) and a
// ring of recent calls for the admin API. A call of a name the server
// never listed is counted as tool "other", and a name longer than 256
// bytes is an unknown tool, never sent to a server: a client cannot make
// the gateway keep what it sends.
//
// The package imports the root (for UsageRecord) and the SDK; the root
// does not import it. The server wires it (server/mcp.go).
package mcpgw
