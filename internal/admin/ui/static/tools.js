// Tools page: the MCP gateway's servers (state, restarts, tools) and its
// recent tool calls, from /admin/api/mcp.
'use strict';
(() => {
  const { api, el, ms, num, when, ago, timeCell, stateRow, loading } = LB;
  const servers = document.getElementById('server-rows');
  const calls = document.getElementById('call-rows');

  async function load() {
    stateRow(calls, 'loading', 'Loading the recent calls…');
    // 404: the gateway is off, which is a state, not a failure.
    const st = await loading(servers, 'the MCP servers', () => api('GET', '/admin/api/mcp').catch((e) => {
      if (e.status === 404) return { off: e.message, servers: [], recent: [] };
      throw e;
    }), load);
    if (!st) {
      stateRow(calls, 'error', 'Not loaded: the MCP status failed (see above).');
      return;
    }
    servers.replaceChildren();
    calls.replaceChildren();
    for (const s of st.servers) {
      servers.append(el('tr', { class: s.state === 'down' ? 'err' : null, 'data-server': s.name },
        el('td', {}, s.name), el('td', {}, s.kind), el('td', { class: 'nowrap' }, s.state), el('td', { class: 'num' }, num(s.restarts)),
        el('td', { class: 'nowrap', title: s.since }, el('time', { datetime: s.since }, ago(s.since))), el('td', {}, LB.words(s.tools)), el('td', { class: 'free' }, s.error || '')));
    }
    for (const c of st.recent) {
      calls.append(el('tr', { class: c.status === 'ok' ? null : 'err', 'data-tool': c.server + '__' + c.tool },
        timeCell(c.time, when), el('td', {}, el('span', { class: 'id' }, c.key_id || '–')), el('td', {}, el('code', {}, c.server + '__' + c.tool)),
        el('td', { class: 'nowrap' }, c.status), el('td', { class: 'num' }, ms(c.duration_ns / 1e6)), el('td', { class: 'free' }, c.error || '')));
    }
    if (st.servers.length === 0) stateRow(servers, 'empty', st.off ? 'The MCP gateway is off: add mcp: servers to LLMBRIDGE_CONFIG to turn it on.' : 'No MCP server is configured (mcp: in LLMBRIDGE_CONFIG).');
    if (st.recent.length === 0) stateRow(calls, 'empty', 'No tool calls yet.');
  }

  load().finally(() => { document.body.dataset.ready = 'true'; });
})();
