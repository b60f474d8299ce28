// Usage & cost page: stacked bar charts (SVG drawn here) and a totals
// table from the admin API: /admin/api/usage per day, or the stored
// requests (/admin/api/requests) per hour.
'use strict';
(() => {
  const { api, el, num, usd, today, addDays, clear, stateRow } = LB;
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

  // hourGroup is a stored request's group: the key's id, its team's
  // name (names: id to name; a deleted team keeps its id), its user, or
  // its model or provider.
  const hourGroup = (stack, r, names) => (stack === 'key' ? r.key_id : stack === 'team' ? (r.team_id && (names.get(r.team_id) || r.team_id)) : r[stack]);

  // byHour sums the stored requests of the range per UTC hour.
  async function byHour(q) {
    const names = new Map();
    if (q.stack === 'team') for (const t of (await api('GET', '/admin/api/teams')).teams) names.set(t.id, t.name);
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
        bucket: new Date(r.time).toISOString().slice(0, 13), group: hourGroup(q.stack, r, names) || '(none)',
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

  // nice returns round axis ticks from 0 covering max: steps of 1, 2 or
  // 5 (2.5 for non-integers) times a power of ten; whole steps for counts.
  function nice(max, whole) {
    if (!(max > 0)) max = whole ? 4 : 1;
    const raw = max / 4;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((v) => v >= raw && (!whole || Number.isInteger(v)));
    if (whole) step = Math.max(1, Math.ceil(step || raw));
    const ticks = [];
    for (let v = 0; v < max + step / 2 || ticks.length < 2; v += step) ticks.push(+v.toPrecision(12));
    if (ticks[ticks.length - 1] < max) ticks.push(+(ticks[ticks.length - 1] + step).toPrecision(12));
    return { ticks, step, top: ticks[ticks.length - 1] };
  }

  // Axis labels: counts compact with separators (1.5k, 2M), dollars with
  // as many decimals as the step needs.
  const count = (step) => (v) => (v >= 1e6 ? +(v / 1e6).toPrecision(3) + 'M' : v >= 1e4 ? +(v / 1e3).toPrecision(3) + 'k' : num(v));
  const dollars = (step) => {
    let d = (String(+step.toPrecision(6)).split('.')[1] || '').length;
    if (d === 1) d = 2; // $2.50, not $2.5
    return (v) => '$' + v.toLocaleString('en-US', { minimumFractionDigits: v === 0 ? 0 : d, maximumFractionDigits: d });
  };

  // label names a bucket for the time axis: "Dec 3" for days; "14:00"
  // for hours (UTC), with the day under the first hour of each day.
  const monthDay = (d) => new Date(d + 'T00:00:00Z').toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });
  const label = (b) => (b.length > 10 ? [b.slice(11) + ':00', monthDay(b.slice(0, 10))] : [monthDay(b), '']);

  // Patterns tell the series apart without colour: solid, stripes, dots,
  // cross-hatch… over distinct colours; defined once for every chart
  // and the legend.
  function patterns() {
    if (document.getElementById('series-patterns')) return;
    const defs = el('defs', {});
    const marks = [
      [],
      [el('path', { d: 'M0 8 L8 0', stroke: '#fff', 'stroke-width': 2 })],
      [el('circle', { cx: 4, cy: 4, r: 1.6, fill: '#fff' })],
      [el('path', { d: 'M0 4 H8 M4 0 V8', stroke: '#fff', 'stroke-width': 1.5 })],
      [el('path', { d: 'M0 0 L8 8', stroke: '#fff', 'stroke-width': 2 })],
      [el('path', { d: 'M0 4 H8', stroke: '#fff', 'stroke-width': 2 })],
      [el('path', { d: 'M4 0 V8', stroke: '#fff', 'stroke-width': 2 })],
      [el('path', { d: 'M0 8 L8 0 M0 0 L8 8', stroke: '#fff', 'stroke-width': 1.2 })],
    ];
    marks.forEach((m, i) => defs.append(el('pattern', { id: 'pat-s' + i, width: 8, height: 8, patternUnits: 'userSpaceOnUse' },
      el('rect', { width: 8, height: 8, class: 's' + i }), ...m)));
    document.body.append(el('svg', { id: 'series-patterns', width: 0, height: 0, 'aria-hidden': 'true', focusable: 'false', class: 'defs' }, defs));
  }

  // chart draws stacked bars (one per bucket, one layer per series) at
  // the host's width, so its 12 px labels stay 12 px, and a data table
  // for screen readers (and anyone) under it.
  function chart(host, data, ser, value, fmtOf, whole, what) {
    clear(host);
    const W = Math.max(300, Math.round(host.clientWidth || 600)), H = 220, B = 40, T = 10;
    const cell = new Map();
    for (const p of data.points) {
      const k = p.bucket + '\u0000' + ser.of(p.group);
      cell.set(k, (cell.get(k) || 0) + (value(p) || 0));
    }
    const sums = data.buckets.map((b) => ser.names.reduce((s, n) => s + (cell.get(b + '\u0000' + n) || 0), 0));
    const axis = nice(Math.max(0, ...sums), whole);
    const fmt = fmtOf(axis.step);
    const L = 12 + 7 * Math.max(...axis.ticks.map((v) => fmt(v).length));
    const total = sums.reduce((a, b) => a + b, 0);
    const peak = sums.indexOf(Math.max(...sums));
    const n = data.buckets.length;
    const bw = (W - L) / n;
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
      'aria-label': `${what} per ${bucket.value}, ${data.buckets.length} ${bucket.value}s: total ${fmt(total)}` +
        (total > 0 ? `, highest ${fmt(sums[peak])} on ${label(data.buckets[peak]).filter(Boolean).join(' ')}` : '') + '. The table below has every value.' });
    for (const v of axis.ticks) {
      const y = T + (H - B - T) * (1 - v / axis.top);
      svg.append(el('line', { x1: L, x2: W, y1: y, y2: y, class: 'grid-line' }));
      svg.append(el('text', { x: L - 6, y: y + 4, 'text-anchor': 'end' }, fmt(v)));
    }
    // Label every k-th bucket, k a whole number of hours that divides a
    // day (or whole days), so hour labels fall on the same clock times.
    const raw = Math.ceil(n / Math.max(2, Math.floor((W - L) / 60)));
    const hourly = bucket.value === 'hour';
    const every = hourly ? [1, 2, 3, 4, 6, 12, 24, 48, 72, 96, 168, 336].find((k) => k >= raw) || raw : raw;
    const sep = bw * 0.8 >= 4 ? 'sep' : null; // a gap between stacked layers where bars are wide enough
    data.buckets.forEach((b, i) => {
      let y = H - B;
      const x = L + i * bw + bw * 0.1;
      ser.names.forEach((name, si) => {
        const v = cell.get(b + '\u0000' + name) || 0;
        if (v <= 0) return;
        const h = (H - B - T) * v / axis.top;
        y -= h;
        svg.append(el('rect', { x, y, width: Math.max(bw * 0.8, 1), height: h, fill: `url(#pat-s${si})`, class: sep, 'data-bucket': b, 'data-series': name, 'data-value': v },
          el('title', {}, `${label(b).filter(Boolean).join(' ')} · ${name}: ${fmt(v)}`)));
      });
      if (i % every === 0) {
        // Hours: the clock time, and the date under each midnight; whole
        // days per label: the date alone.
        const [top, day] = label(b);
        const midnight = hourly && top === '00:00';
        const cx = x + bw * 0.4;
        svg.append(el('text', { x: cx, y: H - B + 16, 'text-anchor': 'middle' }, hourly && every >= 24 ? day : top));
        if (midnight && every < 24) svg.append(el('text', { x: cx, y: H - B + 32, 'text-anchor': 'middle' }, day));
      }
    });
    if (total === 0) svg.append(el('text', { x: (L + W) / 2, y: (H - B) / 2, 'text-anchor': 'middle', class: 'axis-title' }, 'Nothing in this range'));
    if (bucket.value === 'hour') svg.append(el('text', { x: W - 2, y: H - 2, 'text-anchor': 'end', class: 'axis-title' }, 'UTC'));
    host.append(svg);
    host.append(dataTable(data, ser, cell, sums, fmt, what));
  }

  // dataTable is a chart's values as a table, folded under a summary.
  function dataTable(data, ser, cell, sums, fmt, what) {
    const head = el('tr', {}, el('th', { scope: 'col' }, bucket.value === 'hour' ? 'Hour (UTC)' : 'Day (UTC)'),
      ser.names.map((n) => el('th', { scope: 'col', class: 'num' }, n)), el('th', { scope: 'col', class: 'num' }, 'Total'));
    const rows = data.buckets.map((b, i) => el('tr', {}, el('th', { scope: 'row', class: 'nowrap' }, label(b).filter(Boolean).reverse().join(' ')),
      ser.names.map((n) => el('td', { class: 'num' }, fmt(cell.get(b + '\u0000' + n) || 0))), el('td', { class: 'num' }, fmt(sums[i]))));
    return el('details', { class: 'chart-data' }, el('summary', {}, what + ' as a table'),
      el('div', { class: 'scroll' }, el('table', {}, el('thead', {}, head), el('tbody', {}, rows))));
  }

  const tokens = (p) => (tokenKind.value === 'all' ? (p.prompt_tokens || 0) + (p.completion_tokens || 0) : p[tokenKind.value] || 0);

  function draw(data, q) {
    const ser = series(data.points);
    patterns();
    chart(document.getElementById('chart-requests'), data, ser, (p) => p.requests, count, true, 'Requests');
    chart(document.getElementById('chart-tokens'), data, ser, tokens, count, true, 'Tokens');
    chart(document.getElementById('chart-cost'), data, ser, (p) => p.cost_usd, dollars, false, 'Cost');
    LB.regions();
    const legend = document.getElementById('legend');
    clear(legend);
    ser.names.forEach((n, i) => legend.append(el('li', {}, el('svg', { width: 16, height: 16, viewBox: '0 0 16 16', 'aria-hidden': 'true' },
      el('rect', { width: 16, height: 16, fill: `url(#pat-s${i})` })), n)));
    if (ser.names.length === 0) legend.append(el('li', { class: 'muted' }, 'No series: nothing was requested in this range.'));

    document.getElementById('group-col').textContent = { model: 'Model', provider: 'Provider', key: 'Key id', team: 'Team', user: 'User' }[q.stack];
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
    if (groups.size === 0) stateRow(body, 'empty', 'No requests in this range: pick other dates above.');
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
    const body = document.getElementById('usage-rows');
    stateRow(body, 'loading', 'Loading usage…');
    note.textContent = '';
    try {
      last = { data: await (q.bucket === 'hour' ? byHour(q) : byDay(q)), q };
      draw(last.data, q);
      document.body.dataset.ready = 'true';
    } catch (e) {
      stateRow(body, 'error', 'Could not load usage: ' + e.message, load);
      clear(document.getElementById('usage-total'));
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
  // The charts are drawn at their width: draw again when it changes.
  let drawnAt = 0;
  new ResizeObserver(() => {
    const w = document.getElementById('chart-requests').clientWidth;
    if (last && Math.abs(w - drawnAt) > 20) { drawnAt = w; draw(last.data, last.q); }
  }).observe(document.querySelector('.charts'));
  load();
  // Where the prices in force come from and how old they are
  // (/admin/api/prices): costs are priced when requests are recorded.
  api('GET', '/admin/api/prices').then((page) => {
    document.getElementById('price-note').textContent = 'Prices in force: ' + (page.sources || [])
      .map((s) => s.source + ' (' + num(s.models) + (s.models === 1 ? ' model' : ' models') + (s.as_of ? ', as of ' + s.as_of.slice(0, 10) : '') + ')').join('; ') + '.';
  }).catch(() => {});
})();
