// Shared helpers of the admin pages: the admin API client (session
// cookie + CSRF token header), element building and number formats.
'use strict';
const LB = (() => {
  const csrf = () => {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : '';
  };

  // api calls the admin API and returns its JSON; a non-2xx answer
  // throws an Error carrying the API's message, status and param.
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf();
    const opt = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      opt.body = JSON.stringify(body);
    }
    const r = await fetch(path, opt);
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!r.ok) {
      const e = new Error(data && data.error ? data.error.message : r.status + ' ' + r.statusText);
      e.status = r.status;
      e.param = data && data.error ? data.error.param : null;
      throw e;
    }
    return data;
  }

  // el builds an element: attrs sets attributes (class, data-*, aria-*)
  // and on* handlers; kids are nodes or strings (set as text, never HTML).
  function el(tag, attrs, ...kids) {
    const svg = ['svg', 'g', 'rect', 'text', 'line', 'title', 'path', 'defs', 'pattern', 'circle', 'tspan'].includes(tag);
    const e = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const k of kids.flat()) {
      if (k === null || k === undefined) continue;
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return e;
  }

  const intFmt = new Intl.NumberFormat('en-US');
  const num = (v) => (v === null || v === undefined ? '–' : intFmt.format(v));
  // usd shows dollars for people: cents from $1 up (with thousands
  // separators), two significant digits below (a request's $0.00042),
  // "$0" for nothing and "–" for no price.
  const usd = (v) => {
    if (v === null || v === undefined) return '–';
    if (v === 0) return '$0';
    const a = Math.abs(v);
    if (a < 0.000001) return (v < 0 ? '-' : '') + '<$0.000001';
    if (a >= 1) return (v < 0 ? '-$' : '$') + a.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return (v < 0 ? '-$' : '$') + (+a.toPrecision(2)).toString();
  };
  const ms = (v) => (v === null || v === undefined || v === 0 ? '–' : (v >= 60000 ? (v / 60000).toFixed(1) + ' min' : v >= 1000 ? (v / 1000).toFixed(2) + ' s' : v < 1 ? '<1 ms' : Math.round(v) + ' ms'));
  const time = (iso) => {
    const d = new Date(iso);
    return isNaN(d) ? '' : d.toLocaleTimeString('en-GB', { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  };
  const isError = (status, error) => Boolean(error) || status >= 400;
  const today = () => new Date().toISOString().slice(0, 10);
  const addDays = (day, n) => {
    const d = new Date(day + 'T00:00:00Z');
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  };
  const clear = (e) => { while (e.firstChild) e.firstChild.remove(); };
  // pct shows a 0–1 ratio as a percentage; when a timestamp as local date
  // and time; list a comma-separated input as a trimmed array.
  const pct = (v) => (v === null || v === undefined ? '–' : (v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1) + '%');
  const when = (iso) => {
    const d = new Date(iso);
    return isNaN(d) || d.getFullYear() < 2000 ? '' : d.toLocaleString('en-GB', { hour12: false, dateStyle: 'medium', timeStyle: 'short' });
  };
  // ago says how long ago (or, in the future, in how long) a time is.
  const ago = (iso) => {
    const d = new Date(iso);
    if (isNaN(d)) return '';
    const s = (d - Date.now()) / 1000;
    const a = Math.abs(s);
    const [n, u] = a < 60 ? [Math.round(a), 'second'] : a < 3600 ? [Math.round(a / 60), 'minute'] : a < 86400 ? [Math.round(a / 3600), 'hour'] : [Math.round(a / 86400), 'day'];
    return new Intl.RelativeTimeFormat('en', { numeric: 'auto' }).format(s < 0 ? -n : n, u);
  };
  // timeCell is a table cell with a time for people (fmt: time, when or
  // ago) that never wraps, the exact value on hover.
  const timeCell = (iso, fmt) => {
    const d = new Date(iso);
    const exact = isNaN(d) ? '' : d.toLocaleString('en-GB', { hour12: false }) + ' (' + d.toISOString() + ')';
    return el('td', { class: 'nowrap', title: exact }, el('time', { datetime: iso || null }, (fmt || time)(iso)));
  };
  // words shows names or ids (models, targets) as a comma-separated list
  // whose items never break inside; empty shows as none.
  const words = (items, none) => {
    const out = [];
    (items || []).forEach((w, i) => { if (i) out.push(', '); out.push(el('span', { class: 'nw' }, w)); });
    return out.length ? out : [none === undefined ? '' : none];
  };
  const list = (s) => String(s || '').split(',').map((x) => x.trim()).filter(Boolean);
  // meter shows spend against a budget (a bar, red when over); without
  // a budget, the spend alone. Keys and Teams show it.
  const meter = (spent, budget) => {
    if (!budget) return el('span', {}, usd(spent || 0));
    const ratio = (spent || 0) / budget;
    const bar = el('span', { class: ratio >= 1 ? 'over' : null });
    bar.style.width = Math.min(100, ratio * 100).toFixed(1) + '%';
    return el('span', {}, usd(spent || 0) + ' of ' + usd(budget),
      el('span', { class: 'meter', role: 'img', 'aria-label': Math.round(ratio * 100) + '% of the budget' }, bar));
  };
  // deleteButton is a Delete button that asks once more ("Confirm
  // delete") and then runs del; msg tells what happened (done: the text
  // on success, what: the thing named when it failed).
  const deleteButton = (msg, done, what, del) => {
    const b = el('button', { type: 'button', class: 'danger', 'data-action': 'delete' }, 'Delete');
    b.addEventListener('click', async () => {
      if (b.dataset.confirm !== 'true') {
        b.dataset.confirm = 'true';
        b.textContent = 'Confirm delete';
        return;
      }
      try {
        await del();
        msg.textContent = done;
      } catch (e) { msg.textContent = 'Deleting ' + what + ' failed: ' + e.message; }
    });
    return b;
  };
  // limits shows a key's or team's rate limits in words.
  const limits = (x) => {
    const parts = [];
    if (x.rpm) parts.push(num(x.rpm) + ' req/min');
    if (x.tpm) parts.push(num(x.tpm) + ' tok/min');
    if (x.max_parallel) parts.push(num(x.max_parallel) + ' in flight');
    return words(parts, 'none');
  };
  // formError shows an API error in a form's alert element.
  const formError = (node, e) => {
    node.textContent = e ? e.message : '';
    node.hidden = !e;
  };

  // stateRow fills a table body with one full-width row saying what is
  // going on: kind is "loading", "empty" or "error"; an error row has a
  // Retry button calling retry.
  function stateRow(tbody, kind, text, retry) {
    const cols = tbody.closest('table').querySelectorAll('thead th').length || 1;
    clear(tbody);
    const td = el('td', { colspan: cols, class: 'state state-' + kind }, text);
    if (kind === 'error' && retry) {
      td.append(' ', el('button', { type: 'button', class: 'secondary retry', onclick: retry }, 'Retry'));
    }
    tbody.append(el('tr', { 'data-state-row': kind, role: kind === 'error' ? 'alert' : null }, td));
  }
  // loading runs fetch with a loading row in tbody; when it throws, an
  // error row says what failed and why, with a Retry that calls again
  // (the page's loader, which calls loading again).
  async function loading(tbody, what, fetch, again) {
    stateRow(tbody, 'loading', 'Loading ' + what + '…');
    try {
      return await fetch();
    } catch (e) {
      stateRow(tbody, 'error', 'Could not load ' + what + ': ' + e.message, again);
      return undefined;
    }
  }

  // Scrollable table regions: reachable by keyboard, named after the
  // heading above them, with a visible hint while columns are hidden.
  function regions() {
    for (const box of document.querySelectorAll('.scroll')) {
      if (box.dataset.region) continue;
      box.dataset.region = 'true';
      let h = box.previousElementSibling;
      while (h && !/^H[1-3]$/.test(h.tagName)) h = h.previousElementSibling;
      if (!h) h = (box.closest('section') || document).querySelector('h2, h1');
      box.setAttribute('tabindex', '0');
      box.setAttribute('role', 'region');
      box.setAttribute('aria-label', (h ? h.textContent.trim() : 'Table') + ' (scrollable)');
      const hint = el('p', { class: 'scroll-hint', 'aria-hidden': 'true', hidden: true }, 'More columns → swipe or scroll sideways');
      box.before(hint);
      const check = () => {
        const over = box.scrollWidth > box.clientWidth + 1;
        box.dataset.overflow = String(over);
        hint.hidden = !over || box.scrollLeft + box.clientWidth >= box.scrollWidth - 1;
      };
      new ResizeObserver(check).observe(box);
      const table = box.querySelector('table');
      if (table) new ResizeObserver(check).observe(table);
      box.addEventListener('scroll', check, { passive: true });
    }
  }
  regions();

  return { api, el, num, usd, ms, time, isError, today, addDays, clear, pct, when, ago, timeCell, words, list, meter, limits, deleteButton, formError, stateRow, loading, regions };
})();
