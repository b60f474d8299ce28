-- mcp_servers: the MCP servers a virtual key may use through /mcp
-- (internal/keys Policy.MCPServers, internal/mcpgw): a JSON array of
-- name patterns; [] = every server.
ALTER TABLE virtual_keys ADD COLUMN mcp_servers TEXT NOT NULL DEFAULT '[]';
