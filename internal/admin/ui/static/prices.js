// Prices page: the prices of the environment, the file and the store
// (/admin/api/config), a form to set a stored price, delete buttons.
'use strict';
(() => {
  const { api, el, clear, formError, num, loading, stateRow } = LB;
  const msg = document.getElementById('prices-message');
  const form = document.getElementById('price-form');
  const f = (id) => document.getElementById('pr-' + id);
  // perM shows a price per million tokens in dollars.
  const perM = (v) => (v === null || v === undefined ? '–' : '$' + v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 4 }));

  function actions(p) {
    const td = el('td', {});
    if (p.source !== 'store') return td;
    td.append(el('button', { type: 'button', class: 'secondary', 'data-action': 'edit', onclick: () => {
      f('model').value = p.model;
      f('input').value = p.price.input;
      f('cached').value = p.price.cached_input ?? '';
      f('output').value = p.price.output;
      f('input').focus();
    } }, 'Edit'), ' ');
    const del = LB.deleteButton(msg, 'Deleted the price of ' + p.model + '.', 'the price of ' + p.model, async () => {
      await api('DELETE', '/admin/api/prices/' + p.model.split('/').map(encodeURIComponent).join('/'));
      await load();
    });
    td.append(del);
    return td;
  }

  async function load() {
    const body = document.querySelector('#prices-table tbody');
    const c = await loading(body, 'the prices', () => api('GET', '/admin/api/config'), load);
    form.hidden = !c;
    if (!c) return;
    clear(body);
    for (const p of c.prices) {
      body.append(el('tr', { 'data-model': p.model, 'data-source': p.source },
        el('td', {}, p.model), el('td', { class: 'num' }, perM(p.price.input)),
        el('td', { class: 'num' }, p.price.cached_input === undefined ? 'as input' : perM(p.price.cached_input)),
        el('td', { class: 'num' }, perM(p.price.output)), el('td', {}, p.source + (p.shadowed_by ? ' (hidden by ' + p.shadowed_by + ')' : '')), actions(p)));
    }
    if (c.prices.length === 0) stateRow(body, 'empty', 'No price set here: the built-in prices apply (' + num(c.defaults.prices) + ' models).');
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const model = f('model').value.trim();
    const body = { input: Number(f('input').value), output: Number(f('output').value) };
    if (f('cached').value !== '') body.cached_input = Number(f('cached').value);
    try {
      await api('PUT', '/admin/api/prices/' + model.split('/').map(encodeURIComponent).join('/'), body);
      msg.textContent = 'Saved the price of ' + model + '.';
      formError(document.getElementById('price-error'), null);
      form.reset();
      await load();
    } catch (e) { formError(document.getElementById('price-error'), e); }
  });

  load().finally(() => { document.body.dataset.ready = 'true'; });
})();
