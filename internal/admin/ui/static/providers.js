// Providers & routes page: route health from /admin/api/health when the
// bridge has it, per-target error rate and latency percentiles from the
// stored requests (/admin/api/requests), and the configuration with its
// sources (/admin/api/config): forms for the stored providers and
// routes, and a Test button per provider.
'use strict';
(() => {
  const { api, el, ms, clear, num, when, list, formError, loading, stateRow } = LB;
  const percent = LB.pct;

  const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)] : null);

  async function stats() {
    const body = document.getElementById('target-rows');
    const page = await loading(body, 'the stored requests', () => api('GET', '/admin/api/requests?limit=1000'), stats);
    if (!page) return;
    body.replaceChildren();
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
    document.getElementById('stats-note').textContent = 'From the last ' + num(page.requests.length) + ' stored requests (/admin/api/requests).';
    for (const t of [...by.keys()].sort()) {
      const s = by.get(t);
      s.dur.sort((a, b) => a - b);
      s.ttft.sort((a, b) => a - b);
      const rate = s.errors / s.n;
      body.append(el('tr', { class: rate > 0.2 ? 'err' : null, 'data-target': t },
        el('td', {}, t), el('td', { class: 'num' }, num(s.n)), el('td', { class: 'num' }, LB.pct(rate)),
        el('td', { class: 'num' }, ms(pct(s.dur, 50))), el('td', { class: 'num' }, ms(pct(s.dur, 95))),
        el('td', { class: 'num' }, ms(pct(s.ttft, 50))), el('td', { class: 'num' }, ms(pct(s.ttft, 95))),
        el('td', { class: 'free' }, s.lastError)));
    }
    if (by.size === 0) stateRow(body, 'empty', 'No requests stored yet: traffic per target shows here once requests arrive.');
  }

  // cell formats one health field for people: durations (…_ns) in ms,
  // rates as percentages, times as local times, counts with separators.
  function cell(key, v) {
    if (v === null || v === undefined || v === '') return '';
    if (key.endsWith('_ns')) return ms(v / 1e6);
    if (key.startsWith('error_rate')) return percent(v);
    if (key.endsWith('_until') || key.endsWith('_at')) return when(v);
    if (typeof v === 'number') return num(v);
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  const healthTitles = { p50_ns: 'p50 latency', key_state: 'key state', consecutive_failures: 'failures in a row',
    requests_1m: 'requests 1 min', error_rate_1m: 'errors 1 min', requests_5m: 'requests 5 min', error_rate_5m: 'errors 5 min' };

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
    const numeric = (c) => c.endsWith('_ns') || c.startsWith('error_rate') || c.startsWith('requests') || ['in_flight', 'ejections', 'consecutive_failures'].includes(c);
    head.append(el('tr', {}, cols.map((c) => el('th', { scope: 'col', class: numeric(c) ? 'num' : null }, healthTitles[c] || c.replace(/_/g, ' ')))));
    for (const t of list) {
      const state = String(t.state || '');
      body.append(el('tr', { class: state && state !== 'closed' ? 'err' : null },
        cols.map((c) => el('td', { class: numeric(c) ? 'num' : (c.endsWith('state') || c === 'key' || c === 'target' || /_(until|at)$/.test(c) ? 'nowrap' : null), title: /_(until|at)$/.test(c) && t[c] ? String(t[c]) : null, 'data-field': c }, cell(c, t[c])))));
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
    const perM = (v) => (v === null || v === undefined ? '–' : '$' + v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 4 }));
    const body = document.getElementById('price-rows');
    clear(body);
    for (const p of page.prices || []) {
      body.append(el('tr', { 'data-model': p.model }, el('td', {}, p.model), el('td', { class: 'num' }, perM(p.input)),
        el('td', { class: 'num' }, perM(p.cached_input)), el('td', { class: 'num' }, perM(p.output)),
        el('td', {}, p.source || ''), el('td', { class: 'num' }, p.age_days === undefined || p.age_days === null ? '–' : num(p.age_days))));
    }
    document.getElementById('price-sources').textContent = (page.sources || [])
      .map((s) => s.source + ': ' + num(s.models) + (s.models === 1 ? ' model' : ' models') + (s.as_of ? ' as of ' + s.as_of.slice(0, 10) : '')).join(' · ');
    document.getElementById('prices').hidden = false;
  }

  // The stored configuration: providers and routes with their source,
  // forms to add, change and delete the stored ones, a Test button.
  const msg = document.getElementById('config-message');
  const pform = document.getElementById('provider-form');
  const rform = document.getElementById('route-form');
  const pf = (id) => document.getElementById('p-' + id);
  const rf = (id) => document.getElementById('r-' + id);
  let editing = '';

  function actions(kind, item, onEdit) {
    const td = el('td', {});
    if (kind === 'providers') {
      const out = el('span', { role: 'status', class: 'test-result' });
      td.append(el('button', { type: 'button', class: 'secondary', 'data-action': 'test', onclick: () => test(item.name, out) }, 'Test'), ' ');
      td.append(out, ' ');
    }
    if (item.source !== 'store') return td;
    td.append(el('button', { type: 'button', class: 'secondary', 'data-action': 'edit', onclick: onEdit }, 'Edit'), ' ');
    const del = LB.deleteButton(msg, 'Deleted ' + item.name + '.', item.name, async () => {
      await api('DELETE', '/admin/api/' + kind + '/' + encodeURIComponent(item.name));
      await config();
    });
    td.append(del);
    return td;
  }

  async function test(name, out) {
    out.textContent = 'Testing…';
    try {
      const r = await api('POST', '/admin/api/providers/' + encodeURIComponent(name) + '/test');
      out.textContent = (r.ok ? 'OK' : 'Failed') + ' in ' + ms(r.latency_ms) + (r.error ? ': ' + r.error : '');
      out.dataset.ok = String(r.ok);
    } catch (e) { out.textContent = 'Test failed: ' + e.message; out.dataset.ok = 'false'; }
  }

  function keyCell(p) {
    if (!p.api_key_set) return p.api_key_env ? 'from ' + p.api_key_env + ' (unset)' : 'none';
    return 'set' + (p.api_key_last4 ? ' (…' + p.api_key_last4 + ')' : '') + (p.keys > 1 ? ', ' + p.keys + ' keys' : '');
  }

  function editProvider(p) {
    editing = p.name;
    pf('name').value = p.name;
    pf('name').readOnly = true;
    pf('kind').value = p.kind || '';
    pf('base-url').value = p.base_url || '';
    pf('api-key').value = '';
    pf('models').value = (p.models || []).join(', ');
    document.getElementById('provider-form-title').textContent = 'Change provider ' + p.name;
    document.getElementById('save-provider').textContent = 'Save provider';
    document.getElementById('cancel-provider').hidden = false;
    pf('kind').focus();
  }

  function resetProvider() {
    editing = '';
    pform.reset();
    pf('name').readOnly = false;
    document.getElementById('provider-form-title').textContent = 'Add a provider';
    document.getElementById('save-provider').textContent = 'Add provider';
    document.getElementById('cancel-provider').hidden = true;
  }

  function editRoute(r) {
    rf('name').value = r.name;
    rf('strategy').value = r.strategy || '';
    rf('targets').value = (r.targets || []).map((t) => t.model + (t.weight && t.weight !== 1 ? '=' + t.weight : '')).join(', ');
    rf('fallbacks').value = (r.fallbacks || []).join(', ');
    rf('targets').focus();
  }

  async function config() {
    const pbody = document.querySelector('#config-providers tbody');
    const others = ['#config-routes tbody', '#config-rules tbody'].map((q) => document.querySelector(q));
    for (const b of others) stateRow(b, 'loading', 'Loading…');
    const c = await loading(pbody, 'the configuration', () => api('GET', '/admin/api/config'), config);
    if (!c) {
      for (const b of others) stateRow(b, 'error', 'Not loaded: the configuration failed (see above).');
      return;
    }
    clear(pbody);
    for (const p of c.providers) {
      pbody.append(el('tr', { 'data-name': p.name, 'data-source': p.source, class: p.shadowed_by ? 'muted' : null },
        el('td', {}, p.name), el('td', {}, p.kind || 'openai'), el('td', { class: 'nowrap' }, p.base_url || 'default'), el('td', {}, LB.words(p.models)),
        el('td', { class: 'nowrap' }, keyCell(p)), el('td', {}, p.source + (p.shadowed_by ? ' (hidden by ' + p.shadowed_by + ')' : '')),
        actions('providers', p, () => editProvider(p))));
    }
    if (c.providers.length === 0) stateRow(pbody, 'empty', 'No provider configured yet: add one below.');
    showCache(c.cache);
    const abody = document.querySelector('#config-rules tbody');
    clear(abody);
    for (const a of c.alert_rules) {
      abody.append(el('tr', { 'data-name': a.name, 'data-source': a.source },
        el('td', {}, a.name), el('td', {}, a.kind), el('td', {}, a.provider || 'each'), el('td', {}, a.above || ''),
        el('td', {}, a.source + (a.shadowed_by ? ' (hidden by ' + a.shadowed_by + ')' : '')), actions('alerts/rules', a, () => editRule(a))));
    }
    if (c.alert_rules.length === 0) stateRow(abody, 'empty', 'No alert rules.');
    const rbody = document.querySelector('#config-routes tbody');
    clear(rbody);
    for (const r of c.routes) {
      rbody.append(el('tr', { 'data-name': r.name, 'data-source': r.source },
        el('td', {}, r.name), el('td', {}, r.strategy || 'weighted'),
        el('td', {}, LB.words((r.targets || []).map((t) => t.model + (t.weight && t.weight !== 1 ? ' ×' + num(t.weight) : '')))),
        el('td', {}, LB.words(r.fallbacks)), el('td', {}, r.source), actions('routes', r, () => editRoute(r))));
    }
    if (c.routes.length === 0) stateRow(rbody, 'empty', 'No routes: each model is served by its own provider.');
  }

  function showCache(p) {
    const now = document.getElementById('cache-now');
    const del = document.getElementById('delete-cache');
    del.hidden = !p || p.source !== 'store';
    document.getElementById('cache-form').hidden = Boolean(p && p.source !== 'store');
    if (!p) {
      now.textContent = 'No cache policy.';
      return;
    }
    now.textContent = 'In force (' + p.source + '): answers kept ' + (p.ttl || '0s') + ', scope ' + (p.scope || 'key') +
      ', models ' + ((p.models || []).join(', ') || 'all') + '.';
  }

  function editRule(a) {
    document.getElementById('a-name').value = a.name;
    document.getElementById('a-kind').value = a.kind;
    document.getElementById('a-provider').value = a.provider || '';
    document.getElementById('a-above').value = a.above || '';
    document.getElementById('a-above').focus();
  }

  // save sends a form's body and shows the outcome.
  async function save(form, errNode, method, path, body, done) {
    try {
      await api(method, path, body);
      msg.textContent = done;
      formError(errNode, null);
      form.reset();
      await config();
    } catch (e) { formError(errNode, e); }
  }

  const cform = document.getElementById('cache-form');
  cform.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = { ttl: document.getElementById('c-ttl').value.trim(), scope: document.getElementById('c-scope').value,
      models: list(document.getElementById('c-models').value) };
    save(cform, document.getElementById('cache-error'), 'PUT', '/admin/api/cache/policy', body, 'Saved the cache policy.');
  });
  document.getElementById('delete-cache').addEventListener('click', async () => {
    try {
      await api('DELETE', '/admin/api/cache/policy');
      msg.textContent = 'Deleted the cache policy.';
      await config();
    } catch (e) { msg.textContent = 'Deleting failed: ' + e.message; }
  });
  const aform = document.getElementById('rule-form');
  aform.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = document.getElementById('a-name').value.trim();
    const body = { kind: document.getElementById('a-kind').value, provider: document.getElementById('a-provider').value.trim(),
      above: document.getElementById('a-above').value.trim() };
    save(aform, document.getElementById('rule-error'), 'PUT', '/admin/api/alerts/rules/' + encodeURIComponent(name), body, 'Saved alert rule ' + name + '.');
  });

  pform.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { name: pf('name').value.trim(), kind: pf('kind').value.trim(), base_url: pf('base-url').value.trim(), models: list(pf('models').value) };
    if (pf('api-key').value) body.api_key = pf('api-key').value;
    try {
      if (editing) await api('PUT', '/admin/api/providers/' + encodeURIComponent(editing), body);
      else await api('POST', '/admin/api/providers', body);
      msg.textContent = (editing ? 'Saved ' : 'Added ') + body.name + '.';
      formError(document.getElementById('provider-error'), null);
      resetProvider();
      await config();
    } catch (e) { formError(document.getElementById('provider-error'), e); }
  });
  document.getElementById('cancel-provider').addEventListener('click', resetProvider);

  rform.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = rf('name').value.trim();
    const targets = list(rf('targets').value).map((t) => {
      const [model, w] = t.split('=');
      return w ? { model: model.trim(), weight: Number(w) } : { model: model.trim() };
    });
    const body = { strategy: rf('strategy').value, targets, fallbacks: list(rf('fallbacks').value) };
    try {
      await api('PUT', '/admin/api/routes/' + encodeURIComponent(name), body);
      msg.textContent = 'Saved route ' + name + '.';
      formError(document.getElementById('route-error'), null);
      rform.reset();
      await config();
    } catch (e) { formError(document.getElementById('route-error'), e); }
  });

  Promise.all([stats(), health(), prices(), config()]).finally(() => { document.body.dataset.ready = 'true'; });
})();
