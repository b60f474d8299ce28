// Audit page: the admin actions (/admin/api/audit), newest first, a page
// at a time.
'use strict';
(() => {
  const { api, el, when, timeCell, stateRow, loading } = LB;
  const body = document.getElementById('audit-rows');
  const more = document.getElementById('audit-more');
  let before = '';

  // fields shows the changed fields as "name: value" lines.
  const fields = (f) => Object.entries(f || {}).map(([k, v]) =>
    k + ': ' + (v === null ? '(removed)' : typeof v === 'object' ? JSON.stringify(v) : typeof v === 'number' ? v.toLocaleString('en-US') : String(v))).join('\n');

  async function page() {
    const first = !before;
    // The first page fills the table (loading, error with Retry); older
    // pages append below it.
    const r = first ? await loading(body, 'the audit log', () => api('GET', '/admin/api/audit?limit=100'), page)
      : await api('GET', '/admin/api/audit?limit=100&before=' + encodeURIComponent(before)).catch((e) => {
        more.textContent = 'Older entries (the last try failed: ' + e.message + ')';
      });
    if (!r) return;
    if (first) body.replaceChildren();
    for (const e of r.entries) {
      body.append(el('tr', { 'data-action': e.action },
        timeCell(e.time, when), el('td', {}, e.actor), el('td', { class: 'nowrap' }, e.action), el('td', {}, el('span', { class: 'nw' }, e.target)),
        el('td', { class: 'fields' }, fields(e.fields))));
    }
    if (r.entries.length === 0 && first) stateRow(body, 'empty', 'No admin action yet.');
    before = r.entries.length ? r.entries[r.entries.length - 1].id : '';
    more.textContent = 'Older entries';
    more.hidden = r.entries.length < 100;
  }
  more.addEventListener('click', page);
  page().finally(() => { document.body.dataset.ready = 'true'; });
})();
