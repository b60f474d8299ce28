// Keys page: virtual keys with spend against budget; create (the secret
// shown once), edit limits and models, revoke — all through
// /admin/api/keys.
'use strict';
(() => {
  const { api, el, usd, num, when, ago, loading, stateRow, meter, limits } = LB;
  const body = document.getElementById('keys-rows');
  const msg = document.getElementById('keys-message');
  const form = document.getElementById('key-form');
  const formError = document.getElementById('form-error');
  const title = document.getElementById('form-title');
  const save = document.getElementById('save-key');
  const cancel = document.getElementById('cancel-edit');
  const editId = document.getElementById('edit-id');
  const f = (id) => document.getElementById('k-' + id);
  const numFields = { rpm: 'rpm', tpm: 'tpm', parallel: 'max_parallel', daily: 'daily_budget_usd', monthly: 'monthly_budget_usd' };


  // stateOf tells a key's state as the gateway applies it: revoked,
  // expired, over a budget (requests refused until the day or month
  // turns), expiring within a week, or active.
  function stateOf(k) {
    const sp = k.spend || {};
    if (k.revoked_at) return ['revoked', 'revoked'];
    if (k.expires_at && new Date(k.expires_at) <= new Date()) return ['expired', 'expired'];
    if (k.daily_budget_usd && (sp.today_usd || 0) >= k.daily_budget_usd) return ['over-budget', 'over daily budget'];
    if (k.monthly_budget_usd && (sp.month_usd || 0) >= k.monthly_budget_usd) return ['over-budget', 'over monthly budget'];
    if (k.expires_at && new Date(k.expires_at) - Date.now() < 7 * 86400e3) return ['expiring', 'expires ' + ago(k.expires_at)];
    return ['active', 'active'];
  }

  function expiry(k) {
    if (!k.expires_at) return el('td', { class: 'nowrap' }, 'never');
    return el('td', { class: 'nowrap', title: k.expires_at }, el('time', { datetime: k.expires_at }, when(k.expires_at)),
      el('br'), el('span', { class: 'muted' }, ago(k.expires_at)));
  }

  function row(k) {
    const [state, label] = stateOf(k);
    const actions = el('td', {});
    if (state !== 'revoked') {
      actions.append(el('button', { type: 'button', class: 'secondary', 'data-action': 'edit', onclick: () => edit(k) }, 'Edit'), ' ');
      const revoke = el('button', { type: 'button', class: 'danger', 'data-action': 'revoke' }, 'Revoke');
      revoke.addEventListener('click', async () => {
        if (revoke.dataset.confirm !== 'true') {
          revoke.dataset.confirm = 'true';
          revoke.textContent = 'Confirm revoke';
          return;
        }
        try {
          await api('DELETE', '/admin/api/keys/' + encodeURIComponent(k.id));
          msg.textContent = 'Revoked ' + k.name + ' (' + k.id + ').';
          await list();
        } catch (e) { msg.textContent = 'Revoking failed: ' + e.message; }
      });
      actions.append(revoke);
    }
    const sp = k.spend || {};
    return el('tr', { 'data-key-id': k.id, 'data-state': state, class: state === 'revoked' || state === 'expired' ? 'flight' : null },
      // The columns an operator looks for first come first: on a phone
      // they show without scrolling.
      el('td', {}, k.name), el('td', {}, el('span', { class: 'key-state', 'data-state': state }, label)),
      el('td', { class: 'nowrap' }, meter(sp.today_usd, k.daily_budget_usd)), el('td', { class: 'nowrap' }, meter(sp.month_usd, k.monthly_budget_usd)),
      expiry(k), el('td', {}, limits(k)), el('td', {}, LB.words(k.models, 'any')), el('td', {}, k.owner || ''),
      el('td', { 'data-team-id': k.team_id || null }, k.team_id ? el('span', { class: 'nw' }, k.team || k.team_id + ' (deleted)') : ''),
      el('td', {}, el('span', { class: 'id' }, k.id), el('br'), el('span', { class: 'id muted' }, '…' + k.last4)), actions);
  }

  // teams fills the team field's suggestions (the team names).
  async function teams() {
    try {
      const data = await api('GET', '/admin/api/teams');
      document.getElementById('team-names').replaceChildren(...data.teams.map((t) => el('option', { value: t.name })));
    } catch (e) { /* suggestions only: the field still takes a name or id */ }
  }

  async function list() {
    const data = await loading(body, 'keys', () => api('GET', '/admin/api/keys'), list);
    if (data) {
      body.replaceChildren(...data.keys.map(row));
      if (data.keys.length === 0) stateRow(body, 'empty', 'No virtual keys yet: create one below.');
    }
    document.body.dataset.ready = 'true';
  }

  function reset() {
    form.reset();
    editId.value = '';
    title.textContent = 'Create a key';
    save.textContent = 'Create key';
    cancel.hidden = true;
    formError.hidden = true;
  }

  function edit(k) {
    reset();
    editId.value = k.id;
    f('name').value = k.name;
    f('owner').value = k.owner || '';
    f('team').value = k.team || k.team_id || '';
    f('models').value = (k.models || []).join(', ');
    f('mcp').value = (k.mcp_servers || []).join(', ');
    for (const [id, field] of Object.entries(numFields)) f(id).value = k[field] || '';
    f('expires').value = k.expires_at || '';
    title.textContent = 'Edit ' + k.name + ' (' + k.id + ')';
    save.textContent = 'Save changes';
    cancel.hidden = false;
    f('name').focus();
  }

  function params() {
    const p = { name: f('name').value.trim(), owner: f('owner').value.trim(), team: f('team').value.trim() };
    p.models = f('models').value.split(',').map((s) => s.trim()).filter(Boolean);
    p.mcp_servers = f('mcp').value.split(',').map((s) => s.trim()).filter(Boolean);
    for (const [id, field] of Object.entries(numFields)) p[field] = f(id).value === '' ? 0 : Number(f(id).value);
    const exp = f('expires').value.trim();
    p.expires_at = exp === '' ? null : exp;
    return p;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    formError.hidden = true;
    try {
      if (editId.value) {
        const k = await api('PATCH', '/admin/api/keys/' + encodeURIComponent(editId.value), params());
        msg.textContent = 'Saved ' + k.name + '.' + (k.warnings ? ' ' + k.warnings.join(' ') : '');
      } else {
        const k = await api('POST', '/admin/api/keys', params());
        document.getElementById('key-secret').value = k.key;
        document.getElementById('copy-state').textContent = '';
        document.getElementById('secret-box').hidden = false;
        msg.textContent = 'Created ' + k.name + ' (' + k.id + ').' + (k.warnings ? ' ' + k.warnings.join(' ') : '');
      }
      reset();
      await list();
    } catch (err) {
      formError.textContent = (err.param ? err.param + ': ' : '') + err.message;
      formError.hidden = false;
    }
  });
  cancel.addEventListener('click', reset);

  document.getElementById('copy-secret').addEventListener('click', async () => {
    const input = document.getElementById('key-secret');
    const state = document.getElementById('copy-state');
    try {
      await navigator.clipboard.writeText(input.value);
      state.textContent = 'Copied.';
    } catch (e) {
      input.focus();
      input.select();
      state.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
    }
  });

  list(); // first: its fetch is the page's loading state
  teams();
})();
