// The jobs dashboard stays live: it fetches the table again every few seconds (faster while
// something runs), pauses while the tab is hidden, backs off on failures and stops after a
// bounded number of them, and stops everything when the page is left.

import { backoffDelay } from './follower.mjs';
import { localizeTimes } from './common.mjs';

const ACTIVE_MS = 2000;
const IDLE_MS = 6000;
const MAX_FAILURES = 6;

export function mountJobsPage(env = {}) {
  const doc = env.document ?? globalThis.document;
  const win = env.window ?? globalThis.window;
  const live = doc.getElementById('jobs-live');
  if (!live) return null;
  const fetchImpl = env.fetch ?? win.fetch.bind(win);
  const setTimer = env.setTimeout ?? win.setTimeout.bind(win);
  const clearTimer = env.clearTimeout ?? win.clearTimeout.bind(win);
  let timer = null;
  let request = null;
  let failures = 0;
  let stopped = false;

  const status = doc.createElement('p');
  status.className = 'connection';
  status.setAttribute('aria-live', 'polite');
  live.after(status);

  function activeCount() {
    return Number(live.querySelector('[data-active]')?.dataset.active ?? 0);
  }

  function schedule(ms) {
    if (timer !== null) clearTimer(timer);
    timer = setTimer(refresh, ms);
  }

  function halt() {
    if (timer !== null) clearTimer(timer);
    timer = null;
    request?.abort();
    request = null;
  }

  async function refresh() {
    timer = null;
    const controller = new AbortController();
    request = controller;
    try {
      const response = await fetchImpl(live.dataset.refreshUrl, {
        signal: controller.signal,
        cache: 'no-store',
        credentials: 'same-origin',
      });
      if (!response.ok) throw new Error(`jobs answered ${response.status}`);
      const html = await response.text();
      if (request !== controller) return;
      request = null;
      // Keep keyboard focus on the same control when the table is replaced.
      const focused = doc.activeElement?.closest?.('[data-job]')?.dataset.job;
      live.innerHTML = html;
      localizeTimes(live);
      if (focused) live.querySelector(`[data-job="${focused}"] a, [data-job="${focused}"] button`)?.focus();
      failures = 0;
      status.textContent = '';
      schedule(activeCount() > 0 ? ACTIVE_MS : IDLE_MS);
    } catch {
      if (request !== controller) return; // stopped meanwhile
      request = null;
      failures += 1;
      if (failures >= MAX_FAILURES) {
        status.textContent = `Live updates stopped after ${failures} failed attempts. `;
        const retry = doc.createElement('button');
        retry.type = 'button';
        retry.className = 'button button-small';
        retry.textContent = 'Reconnect';
        retry.addEventListener('click', () => {
          failures = 0;
          status.textContent = '';
          refresh();
        });
        status.append(retry);
        return;
      }
      const delay = backoffDelay(failures);
      status.textContent = `Connection lost; trying again in ${Math.max(1, Math.round(delay / 1000))} s.`;
      schedule(delay);
    }
  }

  doc.addEventListener('visibilitychange', () => {
    if (stopped) return;
    halt();
    // Back in view: show the current state at once, then carry on as before.
    if (!doc.hidden && failures < MAX_FAILURES) refresh();
  });
  win.addEventListener('pagehide', () => {
    stopped = true;
    halt();
  });
  win.addEventListener('pageshow', (event) => {
    if (event.persisted) {
      stopped = false;
      refresh();
    }
  });
  if (!doc.hidden) schedule(activeCount() > 0 ? ACTIVE_MS : IDLE_MS);
  return { refresh, halt };
}

if (globalThis.document && globalThis.window) {
  mountJobsPage();
}
