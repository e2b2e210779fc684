// The status page: follows the job (see follower.mjs) and shows it: progress bar, counts,
// elapsed time, Cancel generation; a success toast and then the blueprint page on completion;
// an error toast with Try again on error; a notice on cancellation.

import { createFollower, isTerminal, progressPercent, backoffDelay } from './follower.mjs';

const LABELS = {
  queued: 'Queued',
  generating: 'Generating',
  completed: 'Completed',
  error: 'Failed',
  cancelled: 'Cancelled',
};

// How long the success toast shows before the blueprint page opens.
const SUCCESS_DELAY_MS = 1500;

export function clock(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor(total / 60) % 60;
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

export function mountStatusPage(env = {}) {
  const doc = env.document ?? globalThis.document;
  const win = env.window ?? globalThis.window;
  const root = doc.getElementById('job');
  if (!root) return null;
  const field = (name) => root.querySelector(`[data-field="${name}"]`);
  const setTimer = env.setTimeout ?? win.setTimeout.bind(win);
  const clearTimer = env.clearTimeout ?? win.clearTimeout.bind(win);
  const setTick = env.setInterval ?? win.setInterval.bind(win);
  const clearTick = env.clearInterval ?? win.clearInterval.bind(win);
  const fetchImpl = env.fetch ?? win.fetch.bind(win);
  const navigate = env.navigate ?? ((url) => win.location.assign(url));

  let clockStart = Date.parse(root.dataset.clockStart) || Date.now();
  let finishedAt = root.dataset.finished ? Date.parse(root.dataset.finished) : null;
  let status = root.dataset.status;
  let tick = null;
  let successTimer = null;

  function renderClock() {
    const end = finishedAt ?? Date.now();
    field('elapsed').textContent = clock(end - clockStart);
  }

  function startClock() {
    if (tick === null && !isTerminal(status)) tick = setTick(renderClock, 1000);
  }

  function stopClock() {
    if (tick !== null) {
      clearTick(tick);
      tick = null;
    }
  }

  function render(view) {
    status = view.status;
    root.dataset.status = status;
    const badge = field('status');
    badge.textContent = LABELS[status] ?? status;
    badge.className = `badge status-${status}`;
    const percent = progressPercent(view);
    const bar = doc.getElementById('progress');
    bar.setAttribute('aria-valuenow', String(percent));
    bar.setAttribute('aria-valuetext', `${percent}%`);
    const fill = field('fill');
    fill.className = `progress-fill pct-${percent}${isTerminal(status) ? '' : ' is-live'}`;
    field('percent').textContent = `${percent}%`;
    field('terminal').textContent = String(view.terminal_objectives_count);
    field('target').textContent = String(view.target_terminal_objectives);
    field('enabling').textContent = String(view.enabling_objectives_count);
    field('attempt').textContent = String(view.attempt);
    const started = view.generation_started_at ?? view.created_at;
    if (started) clockStart = Date.parse(started);
    finishedAt = view.finished_at ? Date.parse(view.finished_at) : null;
    renderClock();
    if (isTerminal(status)) {
      stopClock();
      const actions = field('actions');
      actions.querySelector('form[data-action="cancel"]')?.remove();
      if (status === 'completed' && !actions.querySelector('a')) {
        const open = doc.createElement('a');
        open.className = 'button button-primary';
        open.href = root.dataset.blueprintUrl;
        open.textContent = 'Open the blueprint';
        actions.append(open);
      }
      // An empty row would still take its share of the card's spacing.
      actions.hidden = actions.children.length === 0;
    }
  }

  function showToast(templateId, kind) {
    const region = doc.getElementById('toasts');
    const existing = region.querySelector(`[data-toast="${kind}"]`);
    if (existing) return existing;
    const template = doc.getElementById(templateId);
    region.append(template.content.cloneNode(true));
    return region.querySelector(`[data-toast="${kind}"]`);
  }

  function showNotice(kind) {
    const outcome = field('outcome');
    if (!outcome.querySelector(`[data-notice="${kind}"]`)) {
      outcome.append(doc.getElementById(`tpl-notice-${kind}`).content.cloneNode(true));
    }
    return outcome.querySelector(`[data-notice="${kind}"]`);
  }

  function finish(view) {
    if (view.status === 'completed') {
      showToast('tpl-toast-success', 'success');
      successTimer = setTimer(() => navigate(root.dataset.blueprintUrl), SUCCESS_DELAY_MS);
    } else if (view.status === 'error') {
      const message = view.error || 'The generation failed.';
      const toast = showToast('tpl-toast-error', 'error');
      toast.querySelector('[data-field="message"]').textContent = message;
      showNotice('error').querySelector('[data-field="notice-message"]').textContent = message;
    } else if (view.status === 'cancelled') {
      showNotice('cancelled');
    }
  }

  const connection = field('connection');
  const reconnectBox = field('reconnect');
  function describe(event) {
    reconnectBox.hidden = event.state !== 'failed';
    switch (event.state) {
      case 'streaming':
        connection.textContent = 'Live updates on.';
        break;
      case 'polling':
        connection.textContent = `Checking every ${Math.max(1, Math.round(event.nextMs / 1000))} s.`;
        break;
      case 'retrying':
        connection.textContent = `Connection lost; trying again in ${Math.max(1, Math.round(event.delayMs / 1000))} s (${event.failures} failed ${event.failures === 1 ? 'try' : 'tries'} in a row).`;
        break;
      case 'paused':
        connection.textContent = 'Paused while this tab is in the background.';
        break;
      case 'failed':
        connection.textContent = '';
        field('reconnect-text').textContent =
          event.reason === 'not_found'
            ? 'This generation can no longer be found.'
            : `Live updates stopped after ${event.failures} failed attempts. The generation goes on on the server.`;
        break;
      default:
        connection.textContent = '';
    }
  }

  const follower = createFollower({
    statusUrl: root.dataset.statusUrl,
    eventsUrl: root.dataset.eventsUrl,
    fetch: fetchImpl,
    EventSource: env.EventSource ?? win.EventSource,
    setTimeout: setTimer,
    clearTimeout: clearTimer,
    random: env.random,
    document: doc,
    window: win,
    onView: render,
    onDone: finish,
    onConnection: describe,
  });

  root.querySelector('[data-action="reconnect"]')?.addEventListener('click', () => {
    follower.retry();
  });

  // Cancel through the API so the page stays put and shows the result at once; if that
  // request fails, the form is sent the ordinary way (post and redirect).
  const cancelForm = root.querySelector('form[data-action="cancel"]');
  cancelForm?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = cancelForm.querySelector('button');
    button.disabled = true;
    try {
      const response = await fetchImpl(root.dataset.cancelUrl, {
        method: 'POST',
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
      });
      if (response.ok) {
        follower.accept(await response.json());
        return;
      }
      if (response.status === 409) {
        // It ended on its own just now; the follower will show how.
        follower.retry();
        return;
      }
      throw new Error(`cancel answered ${response.status}`);
    } catch {
      button.disabled = false;
      cancelForm.submit();
    }
  });

  function onVisibility() {
    if (doc.hidden) stopClock();
    else {
      renderClock();
      startClock();
    }
  }
  doc.addEventListener('visibilitychange', onVisibility);
  win.addEventListener('pagehide', () => {
    stopClock();
    if (successTimer !== null) clearTimer(successTimer);
    successTimer = null;
  });
  win.addEventListener('pageshow', (event) => {
    if (event.persisted) startClock();
  });

  startClock();
  follower.start();
  return { follower, backoffDelay };
}

if (globalThis.document && globalThis.window) {
  mountStatusPage();
}
