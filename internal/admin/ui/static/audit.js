// Audit page: the admin actions (/admin/api/audit), newest first, a page
// at a time.
'use strict';
(() => {
  const { api, el, when } = LB;
  const body = document.getElementById('audit-rows');
  const more = document.getElementById('audit-more');
  let before = '';

  // fields shows the changed fields as "name: value" lines.
  const fields = (f) => Object.entries(f || {}).map(([k, v]) =>
    k + ': ' + (v === null ? '(removed)' : typeof v === 'object' ? JSON.stringify(v) : typeof v === 'number' ? v.toLocaleString('en-US') : String(v))).join('\n');

  async function page() {
    let r;
    try {
      r = await api('GET', '/admin/api/audit?limit=100' + (before ? '&before=' + encodeURIComponent(before) : ''));
    } catch (e) {
      body.append(el('tr', {}, el('td', { colspan: 5, class: 'muted' }, 'The audit log is not available: ' + e.message)));
      return;
    }
    for (const e of r.entries) {
      body.append(el('tr', { 'data-action': e.action },
        el('td', { class: 'nowrap' }, when(e.time)), el('td', {}, e.actor), el('td', { class: 'nowrap' }, e.action), el('td', {}, e.target),
        el('td', { class: 'fields' }, fields(e.fields))));
    }
    if (r.entries.length === 0 && !before) body.append(el('tr', {}, el('td', { colspan: 5, class: 'muted' }, 'No admin action yet.')));
    before = r.entries.length ? r.entries[r.entries.length - 1].id : '';
    more.hidden = r.entries.length < 100;
  }
  more.addEventListener('click', page);
  page().finally(() => { document.body.dataset.ready = 'true'; });
})();
