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
    const svg = ['svg', 'g', 'rect', 'text', 'line', 'title', 'path'].includes(tag);
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
  // usd shows a cost with up to six decimals; null is "no price".
  const usd = (v) => (v === null || v === undefined ? '–' : '$' + (+v.toFixed(6)).toString());
  const ms = (v) => (v === null || v === undefined || v === 0 ? '–' : (v >= 1000 ? (v / 1000).toFixed(2) + ' s' : Math.round(v) + ' ms'));
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
    return isNaN(d) || d.getFullYear() < 2000 ? '' : d.toLocaleString('en-GB', { hour12: false });
  };
  const list = (s) => String(s || '').split(',').map((x) => x.trim()).filter(Boolean);
  // formError shows an API error in a form's alert element.
  const formError = (node, e) => {
    node.textContent = e ? e.message : '';
    node.hidden = !e;
  };

  return { api, el, num, usd, ms, time, isError, today, addDays, clear, pct, when, list, formError };
})();
