// Tools page: the MCP gateway's servers (state, restarts, tools) and its
// recent tool calls, from /admin/api/mcp.
'use strict';
(() => {
  const { api, el, ms } = LB;

  async function load() {
    const servers = document.getElementById('server-rows');
    const calls = document.getElementById('call-rows');
    let st;
    try {
      st = await api('GET', '/admin/api/mcp');
    } catch (e) {
      document.getElementById('tools-note').textContent = e.message;
      return;
    }
    for (const s of st.servers) {
      servers.append(el('tr', { class: s.state === 'down' ? 'err' : null, 'data-server': s.name },
        el('td', {}, s.name), el('td', {}, s.kind), el('td', {}, s.state), el('td', { class: 'num' }, String(s.restarts)),
        el('td', {}, new Date(s.since).toLocaleString()), el('td', {}, s.tools.join(', ')), el('td', {}, s.error || '')));
    }
    for (const c of st.recent) {
      calls.append(el('tr', { class: c.status === 'ok' ? null : 'err' },
        el('td', {}, new Date(c.time).toLocaleTimeString()), el('td', {}, c.key_id || ''), el('td', {}, c.server + '__' + c.tool),
        el('td', {}, c.status), el('td', { class: 'num' }, ms(c.duration_ns / 1e6)), el('td', {}, c.error || '')));
    }
    if (st.recent.length === 0) calls.append(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No tool calls yet.')));
  }

  load().finally(() => { document.body.dataset.ready = 'true'; });
})();
