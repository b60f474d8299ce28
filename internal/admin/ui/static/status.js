// Status page: where the limits are really kept, from /healthz; the
// start time in local time and the counts with separators.
'use strict';
(() => {
  const { el, when, ago, num } = LB;
  const out = document.getElementById('limits');
  const started = document.getElementById('started');
  if (started && started.dateTime) {
    started.title = started.dateTime;
    started.textContent = when(started.dateTime) + ' (' + ago(started.dateTime) + ')';
  }
  const dropped = document.getElementById('dropped');
  if (dropped && /^\d+$/.test(dropped.textContent)) dropped.textContent = num(+dropped.textContent);

  // modes names the backends /healthz reports (internal/keys) for people.
  const modes = {
    redis: 'in Redis, shared by every replica',
    'in-process': 'in this process only (each replica counts its own)',
    'per-instance': 'in this process only for now: Redis is configured but unreachable, so each replica counts its own',
  };
  function check() {
    out.textContent = 'loading…';
    fetch('/healthz', { cache: 'no-store' })
      .then((r) => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then((h) => {
        out.dataset.mode = h.limits || 'none';
        out.textContent = h.limits ? (modes[h.limits] || h.limits) + (h.limits_reason ? ' — ' + h.limits_reason : '')
          : 'no limits configured (no usage store and no key limits)';
      })
      .catch((e) => {
        out.textContent = 'unknown: /healthz failed (' + e.message + ') ';
        out.append(el('button', { type: 'button', class: 'secondary retry', onclick: check }, 'Retry'));
      })
      .finally(() => { document.body.dataset.ready = 'true'; });
  }
  check();
})();
