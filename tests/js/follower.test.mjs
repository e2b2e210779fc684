// Unit tests of the job follower (static/js/follower.mjs) with node's own test runner and
// fakes for time, fetch, EventSource and the page: run with `node --test tests/js/`.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  backoffDelay,
  createFollower,
  parseRetryAfter,
  progressPercent,
  DEFAULTS,
} from '../../static/js/follower.mjs';

const STATUS_URL = '/api/topics/t/blueprints/b/status';
const EVENTS_URL = '/api/topics/t/blueprints/b/events';

/** Lets pending promise callbacks (a fetch answer, a .json()) run. */
const settle = async () => {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
};

/** Virtual time: timers run only when the test advances the clock. */
class FakeClock {
  now = 1_000_000;
  timers = new Map();
  nextId = 1;
  scheduled = []; // every delay ever asked for, in order

  setTimeout = (fn, ms) => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.now + ms, fn });
    this.scheduled.push(ms);
    return id;
  };

  clearTimeout = (id) => {
    this.timers.delete(id);
  };

  get pending() {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, running each timer that falls due, in order. */
  async advance(ms) {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()]
        .filter(([, t]) => t.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      const [id, timer] = due;
      this.timers.delete(id);
      this.now = timer.at;
      timer.fn();
      await settle();
    }
    this.now = end;
    await settle();
  }
}

class FakeEventSource {
  static instances = [];

  constructor(url) {
    this.url = url;
    this.closed = false;
    this.listeners = {};
    this.onerror = null;
    FakeEventSource.instances.push(this);
  }

  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }

  close() {
    this.closed = true;
  }

  emitStatus(view) {
    for (const fn of this.listeners.status ?? []) fn({ data: JSON.stringify(view) });
  }

  fail() {
    this.onerror?.(new Event('error'));
  }
}

/** A fetch that answers from a script of responses and records every call. */
function fakeFetch(script) {
  const calls = [];
  const fn = (url, init = {}) => {
    calls.push({ url, init });
    const next = script.length > 1 ? script.shift() : script[0];
    const answer = typeof next === 'function' ? next(url, init) : next;
    return Promise.resolve(answer).then((a) => {
      if (a instanceof Error) throw a;
      return a;
    });
  };
  fn.calls = calls;
  return fn;
}

function response(status, body, headers = {}) {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers });
}

function view(status, done = 0, extra = {}) {
  return {
    id: 'b',
    topic_id: 't',
    status,
    terminal_objectives_count: done,
    enabling_objectives_count: done * 2,
    target_terminal_objectives: 10,
    attempt: 1,
    error: null,
    created_at: '2026-11-29T04:00:00.000Z',
    generation_started_at: status === 'queued' ? null : '2026-11-29T04:00:01.000Z',
    finished_at: null,
    ...extra,
  };
}

function page() {
  const document = new EventTarget();
  document.hidden = false;
  const window = new EventTarget();
  return { document, window };
}

function follower(overrides = {}) {
  const clock = overrides.clock ?? new FakeClock();
  const events = [];
  const views = [];
  const done = [];
  const { document, window } = overrides.page ?? page();
  const f = createFollower({
    statusUrl: STATUS_URL,
    eventsUrl: EVENTS_URL,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    now: () => clock.now,
    random: () => 0.5,
    document,
    window,
    onView: (v) => views.push(v),
    onDone: (v) => done.push(v),
    onConnection: (e) => events.push(e),
    ...overrides,
  });
  return { f, clock, events, views, done, document, window };
}

test('the progress bar follows the seed formula', () => {
  assert.equal(progressPercent(view('queued')), 0);
  assert.equal(progressPercent(view('generating', 0)), 5);
  assert.equal(progressPercent(view('generating', 3)), 30);
  assert.equal(progressPercent(view('generating', 10)), 90);
  assert.equal(progressPercent({ ...view('generating', 1), target_terminal_objectives: 3 }), 33);
  assert.equal(progressPercent(view('completed', 10)), 100);
  assert.equal(progressPercent(view('error', 4)), 40);
  assert.equal(progressPercent(view('cancelled', 0, { generation_started_at: null })), 0);
});

test('backoff grows exponentially, is capped, and is jittered', () => {
  const low = [1, 2, 3, 4, 5].map((n) => backoffDelay(n, DEFAULTS, () => 0));
  const high = [1, 2, 3, 4, 5].map((n) => backoffDelay(n, DEFAULTS, () => 1));
  assert.deepEqual(low, [500, 1000, 2000, 4000, 8000]);
  assert.deepEqual(high, [1000, 2000, 4000, 8000, 16000]);
  assert.equal(backoffDelay(20, DEFAULTS, () => 1), DEFAULTS.maxDelayMs);
  // The same failure count gives different delays with different luck.
  const spread = new Set([0, 0.25, 0.5, 0.75].map((r) => backoffDelay(3, DEFAULTS, () => r)));
  assert.equal(spread.size, 4);
});

test('Retry-After is read as seconds or as an HTTP date', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(' 10 '), 10000);
  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter('soon'), null);
  const now = Date.parse('2026-11-29T04:00:00Z');
  assert.equal(parseRetryAfter('Sun, 29 Nov 2026 04:00:05 GMT', now), 5000);
});

test('the SSE stream is followed to the end, then everything is closed', async () => {
  FakeEventSource.instances = [];
  const fetch = fakeFetch([response(500)]);
  const { f, clock, views, done } = follower({ fetch, EventSource: FakeEventSource });
  f.start();
  const [es] = FakeEventSource.instances;
  assert.equal(es.url, EVENTS_URL);
  es.emitStatus(view('generating', 2));
  es.emitStatus(view('generating', 5));
  assert.deepEqual(views.map((v) => v.terminal_objectives_count), [2, 5]);
  es.emitStatus(view('completed', 10));
  assert.equal(done.length, 1);
  assert.equal(es.closed, true);
  assert.equal(f.phase, 'done');
  assert.equal(f.busy, false);
  assert.equal(clock.pending, 0);
  assert.equal(fetch.calls.length, 0, 'no polling while the stream works');
});

test('a broken stream falls back to polling with If-None-Match', async () => {
  FakeEventSource.instances = [];
  const fetch = fakeFetch([
    response(200, view('generating', 3), { ETag: '"v3"', 'Retry-After': '2' }),
    response(304, undefined, { ETag: '"v3"', 'Retry-After': '2' }),
    response(200, view('completed', 10), { ETag: '"v9"' }),
  ]);
  const { f, clock, views, done } = follower({ fetch, EventSource: FakeEventSource });
  f.start();
  const [es] = FakeEventSource.instances;
  es.fail();
  assert.equal(es.closed, true, 'the stream is closed, not left to reconnect on its own');
  assert.equal(f.mode, 'poll');
  assert.equal(fetch.calls.length, 0, 'the retry waits for its backoff');
  await clock.advance(backoffDelay(1, DEFAULTS, () => 0.5));
  assert.equal(fetch.calls.length, 1);
  assert.equal(fetch.calls[0].url, STATUS_URL);
  assert.equal(fetch.calls[0].init.headers['If-None-Match'], undefined);
  assert.equal(views.at(-1).terminal_objectives_count, 3);
  await clock.advance(2000);
  assert.equal(fetch.calls.length, 2);
  assert.equal(fetch.calls[1].init.headers['If-None-Match'], '"v3"');
  await clock.advance(2000);
  assert.equal(fetch.calls.length, 3);
  assert.equal(done.length, 1);
  assert.equal(f.busy, false);
  assert.equal(FakeEventSource.instances.length, 1, 'no second stream was opened');
});

test("polling never runs faster than the server's Retry-After", async () => {
  const fetch = fakeFetch([
    response(200, view('generating', 1), { ETag: '"v1"', 'Retry-After': '4' }),
    response(304, undefined, { 'Retry-After': '7' }),
    response(200, view('generating', 2), { ETag: '"v2"', 'Retry-After': '1' }),
  ]);
  const { f, clock } = follower({ fetch, EventSource: undefined });
  f.start();
  await settle();
  assert.equal(fetch.calls.length, 1, 'without EventSource the first poll is immediate');
  await clock.advance(3999);
  assert.equal(fetch.calls.length, 1);
  await clock.advance(1);
  assert.equal(fetch.calls.length, 2);
  await clock.advance(6999);
  assert.equal(fetch.calls.length, 2);
  await clock.advance(1);
  assert.equal(fetch.calls.length, 3);
  assert.deepEqual(clock.scheduled.slice(0, 3), [4000, 7000, 1000]);
  f.stop();
});

test('failed requests back off with jitter, honour Retry-After, and stop after a bound', async () => {
  let luck = 0;
  const fetch = fakeFetch([
    new TypeError('network down'),
    response(503, { error: { code: 'service_unavailable' } }, { 'Retry-After': '20' }),
    new TypeError('network down'),
  ]);
  const { f, clock, events } = follower({
    fetch,
    EventSource: undefined,
    maxFailures: 4,
    random: () => (luck = (luck + 0.37) % 1),
  });
  f.start();
  await settle();
  await clock.advance(60_000);
  await clock.advance(60_000);
  assert.equal(fetch.calls.length, 4, 'one request and three retries, then it stops');
  const retries = events.filter((e) => e.state === 'retrying').map((e) => e.delayMs);
  assert.equal(retries.length, 3);
  assert.ok(retries[0] >= 500 && retries[0] <= 1000, `first retry ${retries[0]}`);
  assert.ok(retries[1] >= 20_000, 'the 503 Retry-After is honoured');
  assert.ok(retries[2] >= 2000 && retries[2] <= 4000, `third retry ${retries[2]}`);
  const failed = events.at(-1);
  assert.equal(failed.state, 'failed');
  assert.equal(failed.failures, 4);
  assert.equal(f.phase, 'failed');
  assert.equal(clock.pending, 0);
  await clock.advance(600_000);
  assert.equal(fetch.calls.length, 4, 'nothing more after giving up');
  // The page's "Reconnect" starts over with a clean count.
  f.retry();
  await settle();
  assert.equal(fetch.calls.length, 5);
  assert.equal(f.failures, 1);
  f.stop();
});

test('a success resets the failure count', async () => {
  const fetch = fakeFetch([
    new TypeError('blip'),
    new TypeError('blip'),
    response(200, view('generating', 1), { 'Retry-After': '1' }),
    new TypeError('blip'),
    () => response(200, view('generating', 2), { 'Retry-After': '1' }),
  ]);
  // Without the reset, the fourth request would be the third failure and end the follow.
  const { f, clock, events } = follower({ fetch, EventSource: undefined, maxFailures: 3 });
  f.start();
  await settle();
  await clock.advance(10_000);
  assert.ok(fetch.calls.length >= 5);
  assert.equal(f.phase, 'running');
  assert.equal(events.filter((e) => e.state === 'failed').length, 0);
  f.stop();
});

test('a 404 stops at once: retrying cannot bring the job back', async () => {
  const fetch = fakeFetch([response(404, { error: { code: 'blueprint_not_found' } })]);
  const { f, clock, events } = follower({ fetch, EventSource: undefined });
  f.start();
  await settle();
  assert.equal(f.phase, 'failed');
  assert.equal(events.at(-1).reason, 'not_found');
  assert.equal(clock.pending, 0);
});

test('pagehide closes the stream, cancels timers and aborts the request in flight', async () => {
  FakeEventSource.instances = [];
  let signal;
  const fetch = fakeFetch([
    (url, init) => {
      signal = init.signal;
      return new Promise(() => {}); // never answers
    },
  ]);
  const env = follower({ fetch, EventSource: FakeEventSource });
  env.f.start();
  env.FakeEventSource = FakeEventSource.instances[0];
  env.FakeEventSource.fail();
  await env.clock.advance(5000);
  assert.equal(fetch.calls.length, 1);
  assert.equal(env.f.busy, true);
  env.window.dispatchEvent(new Event('pagehide'));
  assert.equal(signal.aborted, true);
  assert.equal(env.f.busy, false);
  assert.equal(env.clock.pending, 0);
  assert.equal(env.f.phase, 'stopped');
  // The page's listeners are gone too: becoming visible again starts nothing.
  env.document.dispatchEvent(new Event('visibilitychange'));
  await env.clock.advance(60_000);
  assert.equal(fetch.calls.length, 1);
  assert.equal(FakeEventSource.instances.length, 1);
});

test('an answer that arrives after leaving is ignored', async () => {
  let answer;
  const fetch = fakeFetch([() => new Promise((resolve) => (answer = resolve))]);
  const { f, views, clock } = follower({ fetch, EventSource: undefined, AbortController: null });
  f.start();
  await settle();
  f.stop();
  answer(response(200, view('generating', 4), { 'Retry-After': '1' }));
  await settle();
  assert.equal(views.length, 0);
  assert.equal(clock.pending, 0);
});

test('a hidden tab pauses everything; showing it again resumes from the server', async () => {
  FakeEventSource.instances = [];
  const fetch = fakeFetch([response(200, view('generating', 1), { 'Retry-After': '1' })]);
  const env = follower({ fetch, EventSource: FakeEventSource });
  env.f.start();
  const first = FakeEventSource.instances[0];
  first.emitStatus(view('generating', 1));
  env.document.hidden = true;
  env.document.dispatchEvent(new Event('visibilitychange'));
  assert.equal(first.closed, true);
  assert.equal(env.f.phase, 'paused');
  assert.equal(env.f.busy, false);
  await env.clock.advance(120_000);
  assert.equal(FakeEventSource.instances.length, 1);
  assert.equal(fetch.calls.length, 0);
  env.document.hidden = false;
  env.document.dispatchEvent(new Event('visibilitychange'));
  assert.equal(FakeEventSource.instances.length, 2, 'a new stream starts with the current state');
  assert.equal(env.f.phase, 'running');
  env.f.stop();
  assert.equal(FakeEventSource.instances[1].closed, true);
});

test('a page opened in a background tab waits until it is shown', async () => {
  FakeEventSource.instances = [];
  const p = page();
  p.document.hidden = true;
  const fetch = fakeFetch([response(500)]);
  const { f } = follower({ fetch, EventSource: FakeEventSource, page: p });
  f.start();
  assert.equal(f.phase, 'paused');
  assert.equal(FakeEventSource.instances.length, 0);
  p.document.hidden = false;
  p.document.dispatchEvent(new Event('visibilitychange'));
  assert.equal(FakeEventSource.instances.length, 1);
  f.stop();
});

test('a page restored from the back/forward cache follows again', async () => {
  FakeEventSource.instances = [];
  const { f, window } = follower({ fetch: fakeFetch([response(500)]), EventSource: FakeEventSource });
  f.start();
  window.dispatchEvent(new Event('pagehide'));
  assert.equal(FakeEventSource.instances[0].closed, true);
  const show = new Event('pageshow');
  show.persisted = true;
  window.dispatchEvent(show);
  assert.equal(FakeEventSource.instances.length, 2);
  assert.equal(f.phase, 'running');
  f.stop();
});

test('a view pushed from elsewhere (a cancel answer) ends the follow', () => {
  FakeEventSource.instances = [];
  const { f, done } = follower({ fetch: fakeFetch([response(500)]), EventSource: FakeEventSource });
  f.start();
  f.accept(view('cancelled', 2));
  assert.equal(done.length, 1);
  assert.equal(done[0].status, 'cancelled');
  assert.equal(FakeEventSource.instances[0].closed, true);
  assert.equal(f.busy, false);
});
