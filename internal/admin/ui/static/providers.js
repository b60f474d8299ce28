// Providers & routes page: route health from /admin/api/health when the
// bridge has it, and per-target error rate and latency percentiles from
// the stored requests (/admin/api/requests).
'use strict';
(() => {
  const { api, el, ms, clear } = LB;

  const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)] : null);

  async function stats() {
    const body = document.getElementById('target-rows');
    let page;
    try {
      page = await api('GET', '/admin/api/requests?limit=1000');
    } catch (e) {
      body.append(el('tr', {}, el('td', { colspan: 8, class: 'muted' }, 'No stored requests: ' + e.message)));
      return;
    }
    const by = new Map();
    for (const r of page.requests) {
      const t = r.model || r.provider || '(unrouted)';
      if (!by.has(t)) by.set(t, { n: 0, errors: 0, dur: [], ttft: [], lastError: '' });
      const s = by.get(t);
      s.n++;
      if (r.status >= 400 || r.error) {
        s.errors++;
        if (!s.lastError) s.lastError = (r.status ? r.status + ' ' : '') + (r.error || '');
      }
      if (r.duration_ms > 0) s.dur.push(r.duration_ms);
      if (r.ttft_ms > 0) s.ttft.push(r.ttft_ms);
    }
    document.getElementById('stats-note').textContent = 'From the last ' + page.requests.length + ' stored requests (/admin/api/requests).';
    for (const t of [...by.keys()].sort()) {
      const s = by.get(t);
      s.dur.sort((a, b) => a - b);
      s.ttft.sort((a, b) => a - b);
      const rate = s.errors / s.n;
      body.append(el('tr', { class: rate > 0.2 ? 'err' : null, 'data-target': t },
        el('td', {}, t), el('td', { class: 'num' }, String(s.n)), el('td', { class: 'num' }, (rate * 100).toFixed(1) + '%'),
        el('td', { class: 'num' }, ms(pct(s.dur, 50))), el('td', { class: 'num' }, ms(pct(s.dur, 95))),
        el('td', { class: 'num' }, ms(pct(s.ttft, 50))), el('td', { class: 'num' }, ms(pct(s.ttft, 95))),
        el('td', {}, s.lastError)));
    }
    if (by.size === 0) body.append(el('tr', {}, el('td', { colspan: 8, class: 'muted' }, 'No requests stored yet.')));
  }

  // health renders whatever targets /admin/api/health lists: one row per
  // target, one column per field, the state highlighted.
  async function health() {
    let h;
    try {
      h = await api('GET', '/admin/api/health');
    } catch (e) {
      return; // no health API in this bridge (yet): the section stays hidden
    }
    const list = Array.isArray(h) ? h : h && (h.targets || h.routes || []);
    if (!Array.isArray(list) || list.length === 0) return;
    const cols = [];
    for (const t of list) for (const k of Object.keys(t)) if (!cols.includes(k)) cols.push(k);
    const table = document.getElementById('health-table');
    const head = table.tHead;
    const body = table.tBodies[0];
    clear(head);
    clear(body);
    head.append(el('tr', {}, cols.map((c) => el('th', { scope: 'col' }, c.replace(/_/g, ' ')))));
    for (const t of list) {
      const state = String(t.state || '');
      body.append(el('tr', { class: state && state !== 'closed' ? 'err' : null },
        cols.map((c) => el('td', {}, t[c] === null || t[c] === undefined ? '' : typeof t[c] === 'object' ? JSON.stringify(t[c]) : String(t[c])))));
    }
    document.getElementById('health').hidden = false;
  }

  // prices lists every price in force (USD per million tokens) with where
  // it comes from — built-in, the YAML file, a synced price list — and its
  // age, from /admin/api/prices.
  async function prices() {
    let page;
    try {
      page = await api('GET', '/admin/api/prices');
    } catch (e) {
      return; // an older bridge: the section stays hidden
    }
    const num = (v) => (v === null || v === undefined ? '' : String(v));
    const body = document.getElementById('price-rows');
    clear(body);
    for (const p of page.prices || []) {
      body.append(el('tr', { 'data-model': p.model }, el('td', {}, p.model), el('td', { class: 'num' }, num(p.input)),
        el('td', { class: 'num' }, num(p.cached_input)), el('td', { class: 'num' }, num(p.output)),
        el('td', {}, p.source || ''), el('td', { class: 'num' }, num(p.age_days))));
    }
    document.getElementById('price-sources').textContent = (page.sources || [])
      .map((s) => s.source + ': ' + s.models + ' models' + (s.as_of ? ' as of ' + s.as_of.slice(0, 10) : '')).join(' · ');
    document.getElementById('prices').hidden = false;
  }

  Promise.all([stats(), health(), prices()]).finally(() => { document.body.dataset.ready = 'true'; });
})();
