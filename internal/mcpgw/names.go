package mcpgw

import (
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// sep joins a server's name and its tool's (or prompt's) name. Server
// names cannot hold it, so the first one splits them.
const sep = "__"

func joinName(server, name string) string { return server + sep + name }

// maxName bounds the "<server>__<name>" a client may name a tool or a
// prompt by: a server name (at most 32 bytes), the separator and the
// tool's name, which the MCP specification (2025-11-25) would keep to 128
// characters, with room to spare. A longer name is unknown: it never
// reaches a server, a log, a metric or the usage store.
const maxName = 256

// splitName splits "<server>__<name>"; ok is false when name has no
// server part or is longer than maxName.
func splitName(full string) (server, name string, ok bool) {
	if len(full) > maxName {
		return "", "", false
	}
	server, name, ok = strings.Cut(full, sep)
	return server, name, ok && server != "" && name != ""
}

// uriScheme starts the URIs of upstream resources as the gateway shows
// them: "llmbridge://<server>/<the upstream URI, path-escaped>". A client
// never sees, nor can name, an upstream URI the gateway did not wrap.
const uriScheme = "llmbridge://"

func wrapURI(server, uri string) string { return uriScheme + server + "/" + url.PathEscape(uri) }

// unwrapURI undoes wrapURI.
func unwrapURI(uri string) (server, upstreamURI string, ok bool) {
	rest, ok := strings.CutPrefix(uri, uriScheme)
	if !ok {
		return "", "", false
	}
	server, esc, ok := strings.Cut(rest, "/")
	if !ok || server == "" {
		return "", "", false
	}
	up, err := url.PathUnescape(esc)
	if err != nil || up == "" {
		return "", "", false
	}
	return server, up, true
}

// Errors the gateway itself answers with (JSON-RPC codes).
const (
	codeInvalidParams = jsonrpc.CodeInvalidParams
	codeInternal      = jsonrpc.CodeInternalError
	codeUnavailable   = -32003 // the upstream server is down or failed
)

func rpcError(code int64, msg string) *jsonrpc.Error { return &jsonrpc.Error{Code: code, Message: msg} }

// errUnknown is the answer for a name the caller may not use or that does
// not exist: the same either way, so a key learns nothing of servers it
// is not allowed.
func errUnknown(kind, name string) *jsonrpc.Error {
	return rpcError(codeInvalidParams, "unknown "+kind+" "+quote(name))
}

// maxMessage bounds an upstream error message passed to a client.
const maxMessage = 1000

// upstreamError turns what a call to server returned as an error into
// the client's: a JSON-RPC error of the server keeps its code and its
// message (without the server's secrets, bounded, data dropped); any
// other failure (transport, timeout, crash) is "unavailable" with no
// detail. transport reports which it was.
func upstreamError(server string, err error, r *redactor) (e *jsonrpc.Error, transport bool) {
	var we *jsonrpc.Error
	if errors.As(err, &we) && we.Code != 0 {
		return rpcError(we.Code, bound(r.String(we.Message))), false
	}
	return rpcError(codeUnavailable, "MCP server "+server+" failed or is unavailable"), true
}

// bound cuts s to maxMessage bytes of valid UTF-8.
func bound(s string) string {
	if len(s) <= maxMessage {
		return strings.ToValidUTF8(s, "�")
	}
	s = s[:maxMessage]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// quote quotes a client-given name for a message, bounded.
func quote(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return `"` + strings.ToValidUTF8(s, "�") + `"`
}
