// Live page: the last stored requests, then every request as it happens
// from the live feed (/admin/api/live, Server-Sent Events).
'use strict';
(() => {
  const { api, el, num, usd, ms, isError, timeCell, clear } = LB;
  const note = document.getElementById('live-state');
  const rows = document.getElementById('live-rows');
  const state = document.getElementById('feed-state');
  const flightCount = document.getElementById('in-flight');
  const pauseBtn = document.getElementById('pause');
  const fKey = document.getElementById('filter-key');
  const fModel = document.getElementById('filter-model');
  const fStatus = document.getElementById('filter-status');
  const maxRows = 500;
  const inFlight = new Map(); // request id → row of a started request
  let paused = false;
  let queued = [];

  // Events and stored rows share one shape: the live feed's.
  const fromStored = (r) => ({
    type: 'end', time: r.time, request_id: r.request_id, key_id: r.key_id, model: r.client_model,
    target: r.model, status: r.status, prompt_tokens: r.prompt_tokens, completion_tokens: r.completion_tokens,
    cost_usd: r.cost_usd, ttft_ms: r.ttft_ms, duration_ms: r.duration_ms, error: r.error, cache: r.cache, saved_usd: r.saved_usd,
  });

  // costCell shows a request's cost; a response-cache hit cost nothing
  // and says what it saved.
  function costCell(ev) {
    if (ev.cache !== 'hit') return el('td', { class: 'num' }, usd(ev.cost_usd));
    return el('td', { class: 'num', 'data-cache': 'hit', title: 'Answered from the response cache' },
      usd(ev.cost_usd) + ' ', el('span', { class: 'pill' }, 'cache hit, saved ' + usd(ev.saved_usd || 0)));
  }

  function setState(s, text) {
    state.dataset.state = s;
    state.textContent = text;
  }

  function matches(tr) {
    const d = tr.dataset;
    const k = fKey.value.trim().toLowerCase();
    const m = fModel.value.trim().toLowerCase();
    if (k && !(d.key || '').toLowerCase().includes(k)) return false;
    if (m && !(d.model || '').toLowerCase().includes(m)) return false;
    switch (fStatus.value) {
      case 'ok': return d.kind === 'ok';
      case 'error': return d.kind === 'error';
      case 'flight': return d.kind === 'flight';
    }
    return true;
  }

  function applyFilter(tr) {
    tr.hidden = !matches(tr);
    const det = tr.nextElementSibling;
    if (det && det.classList.contains('detail')) det.hidden = tr.hidden || det.dataset.open !== 'true';
  }

  function detailRow(ev) {
    const lines = ['request id: ' + ev.request_id];
    if (ev.error_code) lines.push('code: ' + ev.error_code);
    if (ev.error) lines.push('error: ' + ev.error);
    return el('tr', { class: 'detail', hidden: true, 'data-open': 'false' }, el('td', { colspan: 8 }, lines.join('\n')));
  }

  // outcome says how a failed request ended: an HTTP error status, or a
  // failure after the status line went out (a stream cut short) — then
  // the client saw a 200 and the request still failed.
  function outcome(ev) {
    if (ev.status >= 400) return el('span', { class: 'badge err' }, 'error ' + ev.status);
    const sent = ev.status ? ' after HTTP ' + ev.status : '';
    return el('span', { class: 'badge err', title: 'The response had started' + sent + ' when the request failed' },
      (ev.stream === false ? 'failed' : 'stream failed') + sent);
  }

  // keyCell shows the key's name and id; the id never breaks.
  function keyCell(ev) {
    if (!ev.key_id) return el('td', {}, '–');
    if (!ev.key_name) return el('td', {}, el('span', { class: 'id' }, ev.key_id));
    return el('td', {}, ev.key_name + ' ', el('span', { class: 'id' }, '(' + ev.key_id + ')'));
  }

  // empty says why the table shows no row: nothing yet, or the filters.
  function empty() {
    const all = rows.querySelectorAll('tr[data-kind]');
    if (note.dataset.kind === 'loading' || note.dataset.kind === 'error') return;
    const shown = [...all].some((tr) => !tr.hidden);
    note.dataset.kind = shown ? '' : 'empty';
    note.hidden = shown;
    note.textContent = all.length === 0 ? 'No requests yet. They appear here as they happen.'
      : 'No request matches these filters (' + num(all.length) + ' hidden).';
  }

  function render(ev) {
    const flight = ev.type === 'start';
    const err = !flight && isError(ev.status, ev.error);
    const key = ev.key_name ? ev.key_name + ' (' + ev.key_id + ')' : ev.key_id || '–';
    const target = ev.target || (ev.provider ? ev.provider + '/' + ev.upstream_model : '');
    const model = ev.model + (target && target !== ev.model ? ' → ' + target : '');
    const tr = el('tr', {
      class: flight ? 'flight' : err ? 'err' : null, 'data-request-id': ev.request_id,
      'data-key': key, 'data-model': model, 'data-kind': flight ? 'flight' : err ? 'error' : 'ok',
    });
    let statusCell;
    if (flight) statusCell = el('td', { class: 'status nowrap' }, ev.stream ? 'streaming…' : 'in flight…');
    else if (err) {
      const det = detailRow(ev);
      const btn = el('button', { type: 'button', class: 'link', 'aria-expanded': 'false', title: 'Show the error' }, 'details');
      btn.addEventListener('click', () => {
        const open = det.dataset.open !== 'true';
        det.dataset.open = String(open);
        det.hidden = !open;
        btn.setAttribute('aria-expanded', String(open));
      });
      statusCell = el('td', { class: 'status nowrap' }, outcome(ev), ' ', btn);
      tr.detail = det;
    } else statusCell = el('td', { class: 'status nowrap', title: 'HTTP ' + ev.status }, 'OK ' + ev.status);
    tr.append(
      timeCell(ev.time), keyCell(ev), el('td', {}, el('span', { class: 'nw' }, ev.model), target && target !== ev.model ? [' → ', el('span', { class: 'nw' }, target)] : null), statusCell,
      el('td', { class: 'num' }, flight ? '' : num(ev.prompt_tokens) + ' / ' + num(ev.completion_tokens)),
      flight ? el('td', { class: 'num' }, '') : costCell(ev),
      el('td', { class: 'num' }, flight ? '' : ms(ev.ttft_ms)),
      el('td', { class: 'num' }, flight ? '' : ms(ev.duration_ms)),
    );
    return tr;
  }

  function insert(tr, before) {
    rows.insertBefore(tr, before);
    if (tr.detail) rows.insertBefore(tr.detail, tr.nextSibling);
    applyFilter(tr);
  }

  function show(ev) {
    const tr = render(ev);
    const old = inFlight.get(ev.request_id);
    if (ev.type === 'start') {
      insert(tr, rows.firstChild);
      inFlight.set(ev.request_id, tr);
    } else if (old) {
      insert(tr, old);
      old.remove();
      inFlight.delete(ev.request_id);
    } else insert(tr, rows.firstChild);
    flightCount.textContent = num(inFlight.size);
    while (rows.children.length > maxRows * 2) rows.lastChild.remove();
    empty();
  }

  function receive(ev) {
    if (paused) {
      if (queued.length < 5000) queued.push(ev);
      return;
    }
    show(ev);
  }

  pauseBtn.addEventListener('click', () => {
    paused = !paused;
    pauseBtn.setAttribute('aria-pressed', String(paused));
    pauseBtn.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) {
      const q = queued;
      queued = [];
      q.forEach(show);
    }
  });
  for (const f of [fKey, fModel, fStatus]) {
    f.addEventListener('input', () => { for (const tr of rows.querySelectorAll('tr[data-kind]')) applyFilter(tr); empty(); });
  }

  function connect() {
    const es = new EventSource('/admin/api/live');
    es.addEventListener('open', () => setState('connected', 'live'));
    for (const name of ['start', 'end']) {
      es.addEventListener(name, (m) => {
        try { receive(JSON.parse(m.data)); } catch (e) { /* a malformed event is skipped */ }
      });
    }
    es.addEventListener('dropped', () => {
      setState('reconnecting', 'fell behind; reconnecting…');
      es.close();
      setTimeout(connect, 500);
    });
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        setState('reconnecting', 'disconnected; retrying…');
        setTimeout(connect, 2000);
      } else setState('reconnecting', 'reconnecting…');
    });
  }

  // History first, so the feed's newer rows land above it; a failure
  // says so with a Retry, and the feed runs either way.
  function history() {
    note.dataset.kind = 'loading';
    note.hidden = false;
    clear(note);
    note.append('Loading the last requests…');
    return api('GET', '/admin/api/requests?limit=25')
      .then((page) => {
        note.dataset.kind = '';
        for (const r of page.requests.slice().reverse()) show(fromStored(r));
        empty();
      })
      .catch((e) => {
        note.dataset.kind = 'error';
        clear(note);
        note.append('Could not load the stored requests: ' + e.message + ' ',
          el('button', { type: 'button', class: 'secondary retry', onclick: history }, 'Retry'));
      });
  }
  history().finally(() => { document.body.dataset.ready = 'true'; connect(); });
})();
