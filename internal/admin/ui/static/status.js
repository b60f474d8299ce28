// Status page: where the limits are kept, from /healthz.
'use strict';
(() => {
  const out = document.getElementById('limits');
  fetch('/healthz', { cache: 'no-store' })
    .then((r) => r.json())
    .then((h) => {
      out.textContent = h.limits
        ? h.limits + (h.limits_reason ? ' — ' + h.limits_reason : '')
        : 'no limits configured (no usage store and no key limits)';
    })
    .catch((e) => { out.textContent = 'unknown (' + e.message + ')'; })
    .finally(() => { document.body.dataset.ready = 'true'; });
})();
