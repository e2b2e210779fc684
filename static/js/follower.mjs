// Follows one generation job: the SSE stream where it works, polling otherwise.
//
// Everything the outside world provides (fetch, EventSource, timers, randomness, the clock,
// the document and window for page life-cycle events) is injected, so this module runs the
// same in the browser and under `node --test` with fakes.
//
// Rules (from the product contract):
// - Follow `/events` (SSE) where possible; on a stream error fall back to polling `/status`.
// - Poll with `If-None-Match`, never sooner than the server's `Retry-After`.
// - A failed request is retried with exponential backoff and jitter; after `maxFailures`
//   consecutive failures, stop and say so (the page offers a way to retry).
// - Pause while the tab is hidden; close every stream, timer and request on `pagehide`.
// - Nothing is remembered locally: (re)starting asks the server where the job is.

export const TERMINAL = Object.freeze(['completed', 'error', 'cancelled']);

export const DEFAULTS = Object.freeze({
  maxFailures: 6,
  baseDelayMs: 1000,
  maxDelayMs: 30000,
  // Used when a non-terminal answer carries no Retry-After (the server always sends one).
  defaultPollMs: 2000,
});

export function isTerminal(status) {
  return TERMINAL.includes(status);
}

/** The seed's progress bar: while generating min(max(done / target * 100, 5), 90), 100 when
 *  completed, 0 while queued; a job that ended otherwise keeps where it got to. */
export function progressPercent(view) {
  if (!view) return 0;
  if (view.status === 'completed') return 100;
  if (view.status === 'queued') return 0;
  if (view.status !== 'generating' && !view.generation_started_at) return 0;
  const target = Math.max(1, Number(view.target_terminal_objectives) || 1);
  const done = Number(view.terminal_objectives_count) || 0;
  return Math.round(Math.min(Math.max((done / target) * 100, 5), 90));
}

/** Exponential backoff with "equal jitter": half of the step is fixed, so the delay still grows
 *  with each failure, and half is random, so many clients do not retry in lockstep. */
export function backoffDelay(failures, options = DEFAULTS, random = Math.random) {
  const base = options.baseDelayMs ?? DEFAULTS.baseDelayMs;
  const cap = options.maxDelayMs ?? DEFAULTS.maxDelayMs;
  const step = Math.min(cap, base * 2 ** Math.max(0, failures - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/** `Retry-After` in milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value, nowMs = Date.now()) {
  if (value == null || value === '') return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

/**
 * Creates a follower. Callbacks:
 * - onView(view): every new status view, in order (the first one included).
 * - onDone(view): once, when the job reaches a terminal status.
 * - onConnection({state, ...}): how the follower is doing, for the page to say so:
 *   'streaming', 'polling' (with nextMs), 'retrying' (with failures and delayMs), 'paused',
 *   'failed' (with failures and reason), 'stopped', 'done'.
 */
export function createFollower(options) {
  const o = { ...DEFAULTS, ...options };
  const fetchImpl = o.fetch;
  const EventSourceImpl = o.EventSource;
  const setTimer = o.setTimeout ?? globalThis.setTimeout.bind(globalThis);
  const clearTimer = o.clearTimeout ?? globalThis.clearTimeout.bind(globalThis);
  const random = o.random ?? Math.random;
  const now = o.now ?? Date.now;
  const AbortControllerImpl = o.AbortController ?? globalThis.AbortController;
  const onView = o.onView ?? (() => {});
  const onDone = o.onDone ?? (() => {});
  const onConnection = o.onConnection ?? (() => {});

  let mode = EventSourceImpl && o.eventsUrl ? 'sse' : 'poll';
  let source = null; // the open EventSource
  let timer = null; // the one pending timer
  let request = null; // the AbortController of the request in flight
  let etag = null;
  let lastView = null;
  let failures = 0;
  // 'idle' | 'running' | 'paused' | 'failed' | 'done' | 'stopped'
  let phase = 'idle';
  // Bumped whenever work is torn down, so late answers of old work are ignored.
  let epoch = 0;
  const listeners = [];

  function report(state, extra = {}) {
    onConnection({ state, mode, failures, ...extra });
  }

  function teardown() {
    epoch += 1;
    if (source) {
      source.close();
      source = null;
    }
    if (timer !== null) {
      clearTimer(timer);
      timer = null;
    }
    if (request) {
      request.abort();
      request = null;
    }
  }

  function schedule(delayMs) {
    if (timer !== null) clearTimer(timer);
    const mine = epoch;
    timer = setTimer(() => {
      timer = null;
      if (mine === epoch && phase === 'running') poll();
    }, delayMs);
  }

  function accept(view) {
    if (!view || phase === 'done' || phase === 'stopped') return;
    lastView = view;
    onView(view);
    if (isTerminal(view.status)) {
      teardown();
      phase = 'done';
      report('done');
      onDone(view);
    }
  }

  function fail(reason, retryAfterMs) {
    failures += 1;
    if (failures >= o.maxFailures) {
      teardown();
      phase = 'failed';
      report('failed', { reason });
      return;
    }
    // Never sooner than the server asked, and never sooner than the backoff says.
    const delayMs = Math.max(backoffDelay(failures, o, random), retryAfterMs ?? 0);
    report('retrying', { reason, delayMs });
    schedule(delayMs);
  }

  function openStream() {
    const mine = epoch;
    let es;
    try {
      es = new EventSourceImpl(o.eventsUrl);
    } catch {
      mode = 'poll';
      poll();
      return;
    }
    source = es;
    es.addEventListener('status', (event) => {
      if (mine !== epoch || source !== es) return;
      let view;
      try {
        view = JSON.parse(event.data);
      } catch {
        return;
      }
      failures = 0;
      accept(view);
    });
    es.addEventListener('open', () => {
      if (mine === epoch && source === es) report('streaming');
    });
    es.onerror = () => {
      if (mine !== epoch || source !== es) return;
      // The browser would reconnect on its own; we take over instead, so that retries follow
      // our backoff and our failure bound. Polling works wherever plain requests do.
      es.close();
      source = null;
      mode = 'poll';
      fail('stream');
    };
  }

  async function poll() {
    const mine = epoch;
    const controller = AbortControllerImpl ? new AbortControllerImpl() : null;
    request = controller;
    const headers = { Accept: 'application/json' };
    if (etag) headers['If-None-Match'] = etag;
    let response;
    let view = null;
    try {
      response = await fetchImpl(o.statusUrl, {
        headers,
        cache: 'no-store',
        credentials: 'same-origin',
        signal: controller?.signal,
      });
      if (response.status === 200) view = await response.json();
    } catch {
      if (mine !== epoch) return; // torn down meanwhile: not a failure
      request = null;
      fail('network');
      return;
    }
    if (mine !== epoch) return;
    request = null;
    const header = (name) => (response.headers?.get ? response.headers.get(name) : null);
    const retryAfterMs = parseRetryAfter(header('Retry-After'), now());
    if (response.status === 200 || response.status === 304) {
      failures = 0;
      if (view) {
        etag = header('ETag') ?? etag;
        accept(view);
      }
      if (phase !== 'running') return;
      const nextMs = Math.max(retryAfterMs ?? o.defaultPollMs, 0);
      report('polling', { nextMs });
      schedule(nextMs);
      return;
    }
    if (response.status === 404) {
      // The job (or its topic) is gone: retrying cannot help.
      failures = o.maxFailures;
      teardown();
      phase = 'failed';
      report('failed', { reason: 'not_found' });
      return;
    }
    fail(`http_${response.status}`, retryAfterMs);
  }

  function run() {
    teardown();
    phase = 'running';
    if (mode === 'sse') openStream();
    else poll();
  }

  function onVisibility() {
    if (o.document.hidden) controller.pause();
    else controller.resume();
  }

  function onPageHide() {
    controller.stop();
  }

  function onPageShow(event) {
    // Back from the back/forward cache: the page is live again; ask the server where the job is.
    if (event?.persisted && phase === 'stopped') controller.start();
  }

  function listen(target, type, handler, list) {
    if (!target?.addEventListener) return;
    target.addEventListener(type, handler);
    list.push(() => target.removeEventListener(type, handler));
  }

  // The page-show listener outlives stop(): it is how a page restored from the back/forward
  // cache comes back to life. It holds no timer, stream or request.
  const permanent = [];

  const controller = {
    /** Starts (or restarts after stop) following; asks the server for the current state first. */
    start() {
      if (phase === 'done') return;
      if (listeners.length === 0) {
        listen(o.document, 'visibilitychange', onVisibility, listeners);
        listen(o.window, 'pagehide', onPageHide, listeners);
      }
      if (permanent.length === 0) listen(o.window, 'pageshow', onPageShow, permanent);
      if (o.document?.hidden) {
        teardown();
        phase = 'paused';
        report('paused');
        return;
      }
      run();
    },
    /** Hidden tab: nothing runs until resume(). */
    pause() {
      if (phase !== 'running' && phase !== 'idle') return;
      teardown();
      phase = 'paused';
      report('paused');
    },
    resume() {
      if (phase !== 'paused') return;
      run();
    },
    /** Leaving the page: close the stream, cancel timers and requests. */
    stop() {
      if (phase === 'stopped') return;
      teardown();
      // Done stays done; anything else becomes stopped (a bfcache return restarts it).
      if (phase !== 'done') phase = 'stopped';
      for (const remove of listeners.splice(0)) remove();
      report('stopped');
    },
    /** After giving up: start over, stream first, with a clean failure count. */
    retry() {
      if (phase === 'done') return;
      failures = 0;
      mode = EventSourceImpl && o.eventsUrl ? 'sse' : 'poll';
      run();
    },
    /** A status view learned elsewhere (e.g. the answer to a cancel request). */
    accept,
    get phase() {
      return phase;
    },
    get mode() {
      return mode;
    },
    get failures() {
      return failures;
    },
    get lastView() {
      return lastView;
    },
    /** True while a stream, timer or request is open: for tests of clean-up. */
    get busy() {
      return source !== null || timer !== null || request !== null;
    },
  };
  return controller;
}
