// Teams page: teams with their spend against their budgets, limits,
// models and live keys; create, edit (a PUT replaces the whole team) and
// delete — all through /admin/api/teams.
'use strict';
(() => {
  const { api, el, usd, num, loading, stateRow, formError, meter, limits } = LB;
  const body = document.getElementById('teams-rows');
  const msg = document.getElementById('teams-message');
  const form = document.getElementById('team-form');
  const errorBox = document.getElementById('team-form-error');
  const title = document.getElementById('team-form-title');
  const save = document.getElementById('save-team');
  const cancel = document.getElementById('cancel-team');
  const editId = document.getElementById('team-edit-id');
  const f = (id) => document.getElementById('t-' + id);
  const numFields = { rpm: 'rpm', tpm: 'tpm', parallel: 'max_parallel', daily: 'daily_budget_usd', monthly: 'monthly_budget_usd' };


  function row(t) {
    const del = LB.deleteButton(msg, 'Deleted ' + t.name + '.', t.name, async () => {
      await api('DELETE', '/admin/api/teams/' + encodeURIComponent(t.id));
      await list();
    });
    const sp = t.spend || {};
    return el('tr', { 'data-team-id': t.id, 'data-team': t.name },
      el('td', {}, el('span', { class: 'nw' }, t.name)),
      el('td', { class: 'nowrap' }, meter(sp.today_usd, t.daily_budget_usd)), el('td', { class: 'nowrap' }, meter(sp.month_usd, t.monthly_budget_usd)),
      el('td', {}, limits(t)), el('td', {}, LB.words(t.models, 'any')), el('td', { class: 'num' }, num(t.keys)),
      el('td', {}, el('span', { class: 'id' }, t.id)),
      el('td', { class: 'nowrap' }, el('button', { type: 'button', class: 'secondary', 'data-action': 'edit', onclick: () => edit(t) }, 'Edit'), ' ', del));
  }

  async function list() {
    const data = await loading(body, 'teams', () => api('GET', '/admin/api/teams'), list);
    if (data) {
      body.replaceChildren(...data.teams.map(row));
      if (data.teams.length === 0) stateRow(body, 'empty', 'No teams yet: create one below, then give keys a team on the Keys page.');
    }
    document.body.dataset.ready = 'true';
  }

  function reset() {
    form.reset();
    editId.value = '';
    title.textContent = 'Create a team';
    save.textContent = 'Create team';
    cancel.hidden = true;
    formError(errorBox, null);
  }

  function edit(t) {
    reset();
    editId.value = t.id;
    f('name').value = t.name;
    f('models').value = (t.models || []).join(', ');
    for (const [id, field] of Object.entries(numFields)) f(id).value = t[field] || '';
    title.textContent = 'Edit ' + t.name + ' (' + t.id + ')';
    save.textContent = 'Save changes';
    cancel.hidden = false;
    f('name').focus();
  }

  function params() {
    const p = { name: f('name').value.trim(), models: LB.list(f('models').value) };
    for (const [id, field] of Object.entries(numFields)) p[field] = f(id).value === '' ? 0 : Number(f(id).value);
    return p;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    formError(errorBox, null);
    try {
      const t = editId.value ? await api('PUT', '/admin/api/teams/' + encodeURIComponent(editId.value), params())
        : await api('POST', '/admin/api/teams', params());
      msg.textContent = (editId.value ? 'Saved ' : 'Created ') + t.name + ' (' + t.id + ').' + (t.warnings ? ' ' + t.warnings.join(' ') : '');
      reset();
      await list();
    } catch (err) {
      errorBox.textContent = (err.param ? err.param + ': ' : '') + err.message;
      errorBox.hidden = false;
    }
  });
  cancel.addEventListener('click', reset);

  list();
})();
