package mcpgw

import (
	"context"
	"sync"

	"github.com/llmbridge/llmbridge"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// route is the server's receiving middleware: it answers the methods the
// gateway aggregates, for the caller of the request, and leaves the rest
// (initialize, ping, …) to the SDK.
func (g *Gateway) route(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		switch method {
		case "tools/list", "tools/call", "prompts/list", "prompts/get", "resources/list", "resources/read", "resources/templates/list":
		default:
			return next(ctx, method, req)
		}
		c := g.caller(req)
		if c == nil {
			return nil, rpcError(codeInvalidParams, "unauthenticated")
		}
		switch r := req.(type) {
		case *mcp.ListToolsRequest:
			return g.listTools(ctx, c), nil
		case *mcp.CallToolRequest:
			return g.callTool(ctx, c, r)
		case *mcp.ListPromptsRequest:
			return g.listPrompts(ctx, c), nil
		case *mcp.GetPromptRequest:
			return g.getPrompt(ctx, c, r)
		case *mcp.ListResourcesRequest:
			return g.listResources(ctx, c), nil
		case *mcp.ReadResourceRequest:
			return g.readResource(ctx, c, r)
		case *mcp.ListResourceTemplatesRequest:
			// Templates expand to upstream URIs the gateway would have to
			// wrap after the client filled them in: not offered.
			return &mcp.ListResourceTemplatesResult{ResourceTemplates: []*mcp.ResourceTemplate{}}, nil
		}
		return next(ctx, method, req)
	}
}

// caller is who sent req: the caller the bearer check put in the token
// info, or the anonymous caller of an open gateway; nil for neither.
func (g *Gateway) caller(req mcp.Request) *Caller {
	if ex := req.GetExtra(); ex != nil && ex.TokenInfo != nil {
		c, _ := ex.TokenInfo.Extra[callerKey].(*Caller)
		return c
	}
	if g.open() {
		return &Caller{}
	}
	return nil
}

// each runs fn for every server c may use, concurrently, each bounded
// by ListTimeout, and returns their results in configuration order. A
// server that fails or is slow is logged and left out.
func each[T any](g *Gateway, ctx context.Context, c *Caller, what string, fn func(ctx context.Context, u *upstream) ([]T, error)) []T {
	ups := g.allowed(c)
	parts := make([][]T, len(ups))
	var wg sync.WaitGroup
	for i, u := range ups {
		wg.Go(func() {
			ctx, cancel := g.bound(ctx, g.opts.ListTimeout)
			defer cancel()
			list, err := fn(ctx, u)
			if err != nil {
				g.log.Warn("MCP gateway: listing "+what+" failed; the server is left out", "mcp_server", u.cfg.Name, "error", u.redact.err(err))
				return
			}
			parts[i] = list
		})
	}
	wg.Wait()
	out := []T{}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func (g *Gateway) listTools(ctx context.Context, c *Caller) *mcp.ListToolsResult {
	tools := each(g, ctx, c, "tools", func(ctx context.Context, u *upstream) ([]*mcp.Tool, error) {
		list, err := u.listTools(ctx)
		out := make([]*mcp.Tool, 0, len(list))
		for _, t := range list {
			cp := *t
			cp.Name = joinName(u.cfg.Name, t.Name)
			out = append(out, &cp)
		}
		return out, err
	})
	return &mcp.ListToolsResult{Tools: tools}
}

// callTool routes a call to its server and counts it.
func (g *Gateway) callTool(ctx context.Context, c *Caller, req *mcp.CallToolRequest) (mcp.Result, error) {
	server, tool, ok := splitName(req.Params.Name)
	u := g.lookup(c, server)
	if !ok || u == nil {
		return nil, errUnknown("tool", req.Params.Name)
	}
	start := g.now()
	ctx, cancel := g.bound(ctx, u.cfg.callTimeout())
	defer cancel()
	// The name is the client's: only a tool the server listed is
	// recorded as such (the call, the usage record, the metric label);
	// any other is "other".
	known := u.knows(tool)
	if !known {
		if _, err := u.listTools(ctx); err == nil {
			known = u.knows(tool)
		}
	}
	recorded := tool
	if !known {
		recorded = otherTool
	}
	call := Call{Time: start, KeyID: c.KeyID, Server: server, Tool: recorded, RequestID: llmbridge.NewRecordID(start)}
	params := &mcp.CallToolParams{Name: tool, Arguments: req.Params.Arguments, Meta: mcp.Meta{}}
	for k, v := range req.Params.Meta {
		if k != "progressToken" {
			params.Meta[k] = v
		}
	}
	if tok := req.Params.GetProgressToken(); tok != nil {
		id, done := u.progress.add(ctx, req.Session, tok)
		defer done()
		params.Meta["progressToken"] = id
	}
	res, err := g.doCall(ctx, u, params)
	call.Duration = g.now().Sub(start)
	if err != nil {
		e, transport := upstreamError(server, err, u.redact)
		if transport {
			g.log.Warn("MCP tool call failed", "mcp_server", server, "tool", recorded, "key_id", c.KeyID, "error", u.redact.err(err))
		}
		call.Status, call.Error = StatusError, e.Message
		g.record(call)
		return nil, e
	}
	call.Status = StatusOK
	if res.IsError {
		call.Status = StatusToolError
		// A tool's error text is as likely as a JSON-RPC error's to
		// quote the server's credentials back.
		for _, ct := range res.Content {
			if tc, ok := ct.(*mcp.TextContent); ok {
				tc.Text = u.redact.String(tc.Text)
			}
		}
	}
	g.record(call)
	wrapContent(server, res.Content)
	return res, nil
}

func (g *Gateway) doCall(ctx context.Context, u *upstream, params *mcp.CallToolParams) (*mcp.CallToolResult, error) {
	cs, err := u.session(ctx)
	if err != nil {
		return nil, err
	}
	return cs.CallTool(ctx, params)
}

// relayProgress passes an upstream progress notification to the client
// whose call it is about, with the client's own token.
func (g *Gateway) relayProgress(_ context.Context, u *upstream, p *mcp.ProgressNotificationParams) {
	t, ok := u.progress.lookup(p.ProgressToken)
	if !ok {
		return // not a call of ours, or finished
	}
	out := *p
	out.ProgressToken = t.token
	out.Meta = nil
	// The call's context routes the notification to the call's stream.
	_ = t.ss.NotifyProgress(t.ctx, &out)
}

func (g *Gateway) listPrompts(ctx context.Context, c *Caller) *mcp.ListPromptsResult {
	prompts := each(g, ctx, c, "prompts", func(ctx context.Context, u *upstream) ([]*mcp.Prompt, error) {
		cs, err := u.session(ctx)
		if err != nil || !has(cs, func(c *mcp.ServerCapabilities) bool { return c.Prompts != nil }) {
			return nil, err
		}
		var out []*mcp.Prompt
		for p, err := range cs.Prompts(ctx, nil) {
			if err != nil {
				return nil, err
			}
			cp := *p
			cp.Name = joinName(u.cfg.Name, p.Name)
			if out = append(out, &cp); len(out) >= maxListed {
				break
			}
		}
		return out, nil
	})
	return &mcp.ListPromptsResult{Prompts: prompts}
}

func (g *Gateway) getPrompt(ctx context.Context, c *Caller, req *mcp.GetPromptRequest) (mcp.Result, error) {
	server, name, ok := splitName(req.Params.Name)
	u := g.lookup(c, server)
	if !ok || u == nil {
		return nil, errUnknown("prompt", req.Params.Name)
	}
	ctx, cancel := g.bound(ctx, u.cfg.callTimeout())
	defer cancel()
	cs, err := u.session(ctx)
	var res *mcp.GetPromptResult
	if err == nil {
		res, err = cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: name, Arguments: req.Params.Arguments})
	}
	if err != nil {
		e, _ := upstreamError(server, err, u.redact)
		return nil, e
	}
	for _, m := range res.Messages {
		if m != nil {
			wrapContent(server, []mcp.Content{m.Content})
		}
	}
	return res, nil
}

func (g *Gateway) listResources(ctx context.Context, c *Caller) *mcp.ListResourcesResult {
	list := each(g, ctx, c, "resources", func(ctx context.Context, u *upstream) ([]*mcp.Resource, error) {
		cs, err := u.session(ctx)
		if err != nil || !has(cs, func(c *mcp.ServerCapabilities) bool { return c.Resources != nil }) {
			return nil, err
		}
		var out []*mcp.Resource
		for r, err := range cs.Resources(ctx, nil) {
			if err != nil {
				return nil, err
			}
			cp := *r
			cp.Name, cp.URI = joinName(u.cfg.Name, r.Name), wrapURI(u.cfg.Name, r.URI)
			if out = append(out, &cp); len(out) >= maxListed {
				break
			}
		}
		return out, nil
	})
	return &mcp.ListResourcesResult{Resources: list}
}

func (g *Gateway) readResource(ctx context.Context, c *Caller, req *mcp.ReadResourceRequest) (mcp.Result, error) {
	server, uri, ok := unwrapURI(req.Params.URI)
	u := g.lookup(c, server)
	if !ok || u == nil {
		return nil, errUnknown("resource", req.Params.URI)
	}
	ctx, cancel := g.bound(ctx, u.cfg.callTimeout())
	defer cancel()
	cs, err := u.session(ctx)
	var res *mcp.ReadResourceResult
	if err == nil {
		res, err = cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
	}
	if err != nil {
		e, _ := upstreamError(server, err, u.redact)
		return nil, e
	}
	for _, rc := range res.Contents {
		if rc != nil {
			rc.URI = wrapURI(server, rc.URI)
		}
	}
	return res, nil
}

// has reports whether the server announced a capability.
func has(cs *mcp.ClientSession, f func(*mcp.ServerCapabilities) bool) bool {
	ir := cs.InitializeResult()
	return ir != nil && ir.Capabilities != nil && f(ir.Capabilities)
}

// wrapContent rewrites the resource URIs in content to the gateway's
// (resource links and embedded resources), so that a client reads them
// through the gateway, with its key's permissions.
func wrapContent(server string, content []mcp.Content) {
	for _, c := range content {
		switch v := c.(type) {
		case *mcp.ResourceLink:
			v.URI = wrapURI(server, v.URI)
		case *mcp.EmbeddedResource:
			if v.Resource != nil {
				v.Resource.URI = wrapURI(server, v.Resource.URI)
			}
		}
	}
}
