// Usage & cost page: stacked bar charts (SVG drawn here) and a totals
// table from the admin API: /admin/api/usage per day, or the stored
// requests (/admin/api/requests) per hour.
'use strict';
(() => {
  const { api, el, num, usd, today, addDays, clear } = LB;
  const form = document.getElementById('usage-form');
  const from = document.getElementById('from');
  const to = document.getElementById('to');
  const bucket = document.getElementById('bucket');
  const stack = document.getElementById('stack');
  const tokenKind = document.getElementById('token-kind');
  const note = document.getElementById('usage-note');
  const maxSeries = 7; // more groups fold into "other"
  const maxHourRows = 20000;
  let last = null; // the last data drawn, for the token-kind switch

  const params = new URLSearchParams(location.search);
  to.value = params.get('to') || today();
  from.value = params.get('from') || addDays(to.value, -6);
  if (params.get('bucket')) bucket.value = params.get('bucket');
  if (params.get('stack')) stack.value = params.get('stack');

  const column = (s) => (s === 'key' ? 'key_id' : s);
  // cache_hits: requests answered from the response cache (cost 0);
  // saved_usd: what they would have cost.
  const fields = ['requests', 'errors', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'cost_usd', 'cache_hits', 'saved_usd'];
  const money = new Set(['cost_usd', 'saved_usd']);

  // zero is an empty sum; cost stays null until something was priced.
  const zero = () => ({ requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0, cost_usd: null, cache_hits: 0, saved_usd: 0 });
  function add(sum, r) {
    for (const f of fields) {
      if (f === 'cost_usd') { if (r.cost_usd !== null && r.cost_usd !== undefined) sum.cost_usd = (sum.cost_usd || 0) + r.cost_usd; } else sum[f] += r[f] || 0;
    }
  }

  // byDay reads the usage report grouped by day and the stack group.
  async function byDay(q) {
    const rep = await api('GET', '/admin/api/usage?' + new URLSearchParams({ from: q.from, to: q.to, group_by: 'day,' + q.stack }));
    const buckets = [];
    for (let d = q.from; d <= q.to; d = addDays(d, 1)) buckets.push(d);
    const points = rep.rows.map((r) => ({ bucket: r.day, group: r[column(q.stack)] || '(none)', ...r }));
    return { buckets, points, totals: rep.totals, source: 'the usage report (/admin/api/usage), UTC days' };
  }

  // byHour sums the stored requests of the range per UTC hour.
  async function byHour(q) {
    const start = q.from + 'T00:00:00Z';
    const end = addDays(q.to, 1) + 'T00:00:00Z';
    const rows = [];
    let before = '';
    let truncated = false;
    for (;;) {
      const page = await api('GET', '/admin/api/requests?limit=1000' + (before ? '&before=' + before : ''));
      let older = false;
      for (const r of page.requests) {
        if (r.time >= end) continue;
        if (r.time < start) { older = true; break; }
        rows.push(r);
      }
      if (older || !page.next_before) break;
      if (rows.length >= maxHourRows) { truncated = true; break; }
      before = page.next_before;
    }
    const buckets = [];
    for (let t = new Date(start); t < new Date(end); t = new Date(t.getTime() + 3600e3)) buckets.push(t.toISOString().slice(0, 13));
    const totals = zero();
    const points = rows.map((r) => {
      const p = {
        bucket: new Date(r.time).toISOString().slice(0, 13), group: (q.stack === 'key' ? r.key_id : r[q.stack]) || '(none)',
        requests: 1, errors: r.status >= 400 || r.error ? 1 : 0, prompt_tokens: r.prompt_tokens,
        completion_tokens: r.completion_tokens, cached_tokens: r.cached_tokens, cost_usd: r.cost_usd,
        cache_hits: r.cache === 'hit' ? 1 : 0, saved_usd: r.saved_usd || 0,
      };
      add(totals, p);
      return p;
    });
    return { buckets, points, totals, source: 'the stored requests (/admin/api/requests), UTC hours' + (truncated ? ' — only the newest ' + maxHourRows : '') };
  }

  // series orders the groups by requests and folds the tail into "other".
  function series(points) {
    const sums = new Map();
    for (const p of points) sums.set(p.group, (sums.get(p.group) || 0) + p.requests);
    const names = [...sums.keys()].sort((a, b) => sums.get(b) - sums.get(a) || a.localeCompare(b));
    if (names.length <= maxSeries) return { names, of: (g) => g };
    const keep = new Set(names.slice(0, maxSeries - 1));
    return { names: [...keep, 'other'], of: (g) => (keep.has(g) ? g : 'other') };
  }

  // chart draws stacked bars: one per bucket, one layer per series.
  function chart(host, data, ser, value, fmt) {
    clear(host);
    const W = 660, H = 240, L = 100, B = 30, T = 10;
    const cell = new Map();
    for (const p of data.points) {
      const k = p.bucket + '\u0000' + ser.of(p.group);
      cell.set(k, (cell.get(k) || 0) + (value(p) || 0));
    }
    let max = 0;
    for (const b of data.buckets) {
      let s = 0;
      for (const n of ser.names) s += cell.get(b + '\u0000' + n) || 0;
      max = Math.max(max, s);
    }
    if (max === 0) max = 1;
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': host.id.replace('chart-', '') + ' per ' + bucket.value });
    for (let i = 0; i <= 4; i++) {
      const y = T + (H - B - T) * (1 - i / 4);
      svg.append(el('line', { x1: L, x2: W, y1: y, y2: y, stroke: '#d1d5db' }));
      svg.append(el('text', { x: L - 4, y: y + 4, 'text-anchor': 'end' }, fmt(max * i / 4)));
    }
    const n = data.buckets.length;
    const bw = (W - L) / n;
    const every = Math.ceil(n / 8);
    data.buckets.forEach((b, i) => {
      let y = H - B;
      const x = L + i * bw + bw * 0.1;
      ser.names.forEach((name, si) => {
        const v = cell.get(b + '\u0000' + name) || 0;
        if (v <= 0) return;
        const h = (H - B - T) * v / max;
        y -= h;
        svg.append(el('rect', { x, y, width: Math.max(bw * 0.8, 1), height: h, class: 's' + si, 'data-bucket': b, 'data-series': name, 'data-value': v },
          el('title', {}, `${b} · ${name}: ${fmt(v)}`)));
      });
      if (i % every === 0) svg.append(el('text', { x: x + bw * 0.4, y: H - 8, 'text-anchor': 'middle' }, b.length > 10 ? b.slice(11) + 'h' : b.slice(5)));
    });
    host.append(svg);
  }

  const tokens = (p) => (tokenKind.value === 'all' ? (p.prompt_tokens || 0) + (p.completion_tokens || 0) : p[tokenKind.value] || 0);
  const compact = (v) => (v >= 1e6 ? (v / 1e6).toFixed(1) + 'M' : v >= 1e3 ? (v / 1e3).toFixed(1) + 'k' : String(Math.round(v * 100) / 100));

  function draw(data, q) {
    const ser = series(data.points);
    chart(document.getElementById('chart-requests'), data, ser, (p) => p.requests, compact);
    chart(document.getElementById('chart-tokens'), data, ser, tokens, compact);
    chart(document.getElementById('chart-cost'), data, ser, (p) => p.cost_usd, (v) => '$' + (v < 1 ? v.toPrecision(2) : v.toFixed(2)));
    const legend = document.getElementById('legend');
    clear(legend);
    ser.names.forEach((n, i) => legend.append(el('li', {}, el('span', { class: 'swatch s' + i, 'aria-hidden': 'true' }), n)));

    document.getElementById('group-col').textContent = { model: 'Model', provider: 'Provider', key: 'Key id' }[q.stack];
    const groups = new Map();
    for (const p of data.points) {
      if (!groups.has(p.group)) groups.set(p.group, zero());
      add(groups.get(p.group), p);
    }
    const body = document.getElementById('usage-rows');
    clear(body);
    const line = (name, s, attrs) => el('tr', attrs, el('td', {}, name),
      ...fields.map((f) => el('td', { class: 'num', 'data-field': f, 'data-value': s[f] === null ? '' : s[f] }, money.has(f) ? usd(s[f]) : num(s[f]))));
    [...groups.keys()].sort().forEach((g) => body.append(line(g, groups.get(g), { 'data-group': g })));
    if (groups.size === 0) body.append(el('tr', {}, el('td', { colspan: fields.length + 1, class: 'muted' }, 'No requests in this range.')));
    const foot = document.getElementById('usage-total');
    clear(foot);
    foot.append(line('Total', data.totals, { id: 'total-row' }));
    note.textContent = 'From ' + data.source + '.';
  }

  async function load() {
    const q = { from: from.value, to: to.value, stack: stack.value, bucket: bucket.value };
    const ex = new URLSearchParams({ from: q.from, to: q.to, group_by: 'day,' + q.stack });
    document.getElementById('export-json').href = '/admin/api/usage?' + ex;
    ex.set('format', 'csv');
    document.getElementById('export-csv').href = '/admin/api/usage?' + ex;
    document.body.dataset.ready = 'loading';
    try {
      last = { data: await (q.bucket === 'hour' ? byHour(q) : byDay(q)), q };
      draw(last.data, q);
      document.body.dataset.ready = 'true';
    } catch (e) {
      note.textContent = 'Could not load usage: ' + e.message;
      document.body.dataset.ready = 'error';
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = new URLSearchParams({ from: from.value, to: to.value, bucket: bucket.value, stack: stack.value });
    history.replaceState(null, '', '?' + p);
    load();
  });
  tokenKind.addEventListener('change', () => { if (last) draw(last.data, last.q); });
  // Where the prices in force come from and how old they are
  // (/admin/api/prices): costs are priced when requests are recorded.
  api('GET', '/admin/api/prices').then((page) => {
    document.getElementById('price-note').textContent = 'Prices in force: ' + (page.sources || [])
      .map((s) => s.source + ' (' + s.models + ' models' + (s.as_of ? ', as of ' + s.as_of.slice(0, 10) : '') + ')').join('; ') + '.';
  }).catch(() => {});
  load();
})();
