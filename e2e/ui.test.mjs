// Browser end-to-end tests: Debian's Chromium (through playwright-core) against a real
// `quizmaster serve` (target/debug/quizmaster) on a fresh SQLite file. Run after `cargo build`:
//   node --test --test-concurrency=1 e2e/
// Screenshots of every page land in test-output/screenshots/. Accounts are on (the default):
// each test's browser context signs up a fresh user of its own, so tests never see each
// other's topics; one test drives the sign-up, log-out and log-in pages themselves.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  createTopic,
  freshEmail,
  LECTURE,
  launchBrowser,
  missingPrerequisite,
  PASSWORD,
  screenshot,
  signUp,
  startServer,
  waitFor,
} from './helpers.mjs';

const skip = missingPrerequisite();
const WIDE = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
// The notes a teacher uploads: the lecture the other tests use too (rich enough for 30).
const NOTES = LECTURE;

let server; // pace 120 ms: progress is visible and runs finish in seconds
let browser;

/**
 * A page that fails the test on any script error or CSP violation, in a browser context of its
 * own that is logged in as a fresh user (unless `anonymous`); `base` is the server to sign up on.
 */
async function openPage({ anonymous = false, base = server.base, ...options } = {}) {
  const context = await browser.browser.newContext({ viewport: WIDE, ...options });
  const user = anonymous ? null : await signUp(context, base);
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.setDefaultNavigationTimeout(20000);
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  if (process.env.E2E_DEBUG) page.on('response', (r) => console.log('response', r.status(), r.url()));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of 409/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  return { context, page, problems, user };
}

async function valueNow(page) {
  return Number(await page.getByRole('progressbar').getAttribute('aria-valuenow'));
}

async function startFromGeneratePage(page, base, topicId, target) {
  await page.goto(`${base}/topics/${topicId}/blueprints/generate`);
  await page.getByLabel('Terminal objectives to aim for').fill(String(target));
  await page.getByRole('button', { name: 'Start generation' }).click();
  await page.waitForURL(/\/blueprints\/generate-status\?blueprint=/);
  return new URL(page.url()).searchParams.get('blueprint');
}

/** The status view, as the user whose cookie `context` holds. */
async function apiStatus(context, base, topicId, blueprintId) {
  const response = await context.request.get(`${base}/api/topics/${topicId}/blueprints/${blueprintId}/status`);
  return response.json();
}

describe('web UI', { skip: skip ?? false }, () => {
  before(async () => {
    server = await startServer({ QUIZMASTER_OFFLINE_PACE_MS: '120' });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    browser = null;
    await server?.stop();
  });

  test('create a topic, generate, watch the progress, land on the blueprint', async () => {
    const { context, page, problems } = await openPage();
    const first = await page.goto(`${server.base}/`);
    assert.match(page.url(), /\/topics$/);
    const headers = first.headers();
    assert.match(headers['content-security-policy'], /script-src 'self'/);
    assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.equal(headers['referrer-policy'], 'same-origin');
    await screenshot(page, '01-topics-empty');

    await page.getByLabel('Title').fill('Describing data and testing hypotheses');
    await page.getByLabel('Description').fill('Week 6 lecture notes, with the readings that go with them.');
    // With JavaScript the chosen file is read into the text box.
    await page.getByLabel('Or upload a file').setInputFiles({
      name: 'notes.md',
      mimeType: 'text/markdown',
      buffer: Buffer.from(NOTES),
    });
    await waitFor(async () => (await page.getByLabel('Paste text').inputValue()).includes('interquartile range'), {
      what: 'the file in the text box',
    });
    await page.getByRole('button', { name: 'Create topic' }).click();
    await page.waitForURL(/\/topics\/[0-9a-f-]{36}$/);
    const topicId = page.url().split('/').pop();
    await page.getByRole('heading', { name: 'Describing data and testing hypotheses', level: 1 }).waitFor();
    await screenshot(page, '02-topic-new');

    await page.getByRole('button', { name: 'Generate blueprint' }).click();
    await page.waitForURL(/\/blueprints\/generate\??$/);
    await page.getByLabel('Terminal objectives to aim for').fill('16');
    await screenshot(page, '03-generate');
    await page.getByRole('button', { name: 'Start generation' }).click();
    await page.waitForURL(/\/blueprints\/generate-status\?blueprint=/);
    const blueprintId = new URL(page.url()).searchParams.get('blueprint');

    // The bar moves through intermediate values (the seed's 5..90 while generating).
    const seen = new Set();
    let shotTaken = false;
    await waitFor(
      async () => {
        const value = await valueNow(page);
        seen.add(value);
        if (!shotTaken && value >= 30 && value <= 90) {
          shotTaken = true;
          await screenshot(page, '04-status-running');
        }
        return page.url().includes('/blueprints/generate-status') === false || value === 100;
      },
      { intervalMs: 40, timeoutMs: 30000, what: 'completion' },
    );
    const middle = [...seen].filter((v) => v >= 5 && v <= 90);
    assert.ok(middle.length >= 2, `progress should move; saw ${[...seen]}`);
    assert.ok(middle.every((v) => v <= 90), 'never above 90 before completion');

    const toast = page.getByRole('status').filter({ hasText: 'Blueprint ready' });
    if (page.url().includes('generate-status')) {
      await toast.waitFor();
      await screenshot(page, '05-status-completed-toast');
    }
    await page.waitForURL(new RegExp(`/topics/${topicId}/blueprints/${blueprintId}$`));
    await page.getByRole('heading', { name: 'Spread over Bloom levels' }).waitFor();
    assert.equal(await page.locator('ol.terminals > li').count(), 16);
    assert.ok((await page.locator('.objective-enabling').count()) > 0);
    assert.ok((await page.locator('.bloom-chart tbody tr').count()) === 6);
    for (const format of ['Markdown', 'CSV', 'JSON']) {
      const link = page.getByRole('link', { name: `Export ${format}` });
      const href = await link.getAttribute('href');
      const download = await context.request.get(`${server.base}${href}`);
      assert.equal(download.status(), 200, `${format} export`);
    }
    await screenshot(page, '06-blueprint');
    await page.setViewportSize(PHONE);
    await screenshot(page, '06-blueprint-phone');

    await page.goto(`${server.base}/topics/${topicId}`);
    await page.getByRole('link', { name: /quiz blueprint/ }).first().waitFor();
    await screenshot(page, '07-topic-with-blueprint-phone');
    await page.goto(`${server.base}/topics`);
    await screenshot(page, '08-topics-phone');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('Cancel generation stops the job and shows a notice', async () => {
    const { context, page, problems } = await openPage();
    const topic = await createTopic(context.request, server.base, 'Plate tectonics', {
      description: 'Why continents move',
    });
    const blueprintId = await startFromGeneratePage(page, server.base, topic.id, 30);
    await waitFor(async () => (await valueNow(page)) >= 10, { what: 'some progress' });
    await page.getByRole('button', { name: 'Cancel generation' }).click();
    await page.getByText('This generation was cancelled.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Cancel generation' }).count(), 0);
    assert.equal((await apiStatus(context, server.base, topic.id, blueprintId)).status, 'cancelled');
    assert.match(page.url(), /generate-status/, 'stays on the status page');
    await screenshot(page, '09-status-cancelled');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('reloading the status page picks the job up where it is', async () => {
    const { context, page, problems } = await openPage();
    const topic = await createTopic(context.request, server.base, 'Fractions');
    const blueprintId = await startFromGeneratePage(page, server.base, topic.id, 30);
    await waitFor(async () => (await valueNow(page)) >= 30, { what: 'progress to 30%' });
    const before = (await apiStatus(context, server.base, topic.id, blueprintId)).terminal_objectives_count;
    await page.reload({ waitUntil: 'domcontentloaded' });
    assert.equal(new URL(page.url()).searchParams.get('blueprint'), blueprintId);
    // The page is rendered from the server's state: it does not start from zero.
    assert.ok((await valueNow(page)) >= 30);
    assert.ok(Number(await page.locator('[data-field="terminal"]').textContent()) >= before);
    await page.waitForURL(/\/blueprints\/[0-9a-f-]{36}$/, { timeout: 30000 });
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('no requests once the status page is left', async () => {
    const { context, page, problems } = await openPage();
    const topic = await createTopic(context.request, server.base, 'Slow topic');
    // Take EventSource away so that the follower polls: then timers are what must stop.
    await context.addInitScript(() => {
      delete window.EventSource;
    });
    const apiRequests = [];
    context.on('request', (request) => {
      if (request.url().includes('/api/')) apiRequests.push({ url: request.url(), at: Date.now() });
    });
    await startFromGeneratePage(page, server.base, topic.id, 30);
    await waitFor(() => apiRequests.length >= 2, { what: 'the follower to poll' });
    assert.ok(apiRequests.every((r) => r.url.includes('/status')));
    // Leaving: the page's pagehide handler must stop timers and requests while the document
    // is still there, as it is when a page goes into the back/forward cache.
    await page.evaluate(() => window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true })));
    const left = Date.now();
    await page.waitForTimeout(3000); // Retry-After is at least 1 s: two polls would have happened
    assert.deepEqual(apiRequests.filter((r) => r.at > left + 50), []);
    const beforeNavigation = apiRequests.length;
    await page.goto(`${server.base}/topics`);
    await page.waitForTimeout(1500);
    assert.equal(apiRequests.length, beforeNavigation);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a hidden tab pauses the follower and showing it resumes', async () => {
    const { context, page, problems } = await openPage();
    const topic = await createTopic(context.request, server.base, 'Background tab');
    await context.addInitScript(() => {
      delete window.EventSource;
    });
    const apiRequests = [];
    context.on('request', (request) => {
      if (request.url().includes('/api/')) apiRequests.push(Date.now());
    });
    await startFromGeneratePage(page, server.base, topic.id, 30);
    await waitFor(() => apiRequests.length >= 2, { what: 'the follower to poll' });
    // Headless Chromium has no real tab switching: make the document report hidden and tell
    // the page, as the browser does when the tab goes to the background.
    const setHidden = (hidden) =>
      page.evaluate((value) => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => value });
        Object.defineProperty(document, 'visibilityState', {
          configurable: true,
          get: () => (value ? 'hidden' : 'visible'),
        });
        document.dispatchEvent(new Event('visibilitychange'));
      }, hidden);
    await setHidden(true);
    const hiddenAt = Date.now();
    await page.getByText('Paused while this tab is in the background.').waitFor();
    await page.waitForTimeout(3000); // two polls' worth at Retry-After >= 1 s
    assert.deepEqual(apiRequests.filter((at) => at > hiddenAt + 50), []);
    await setHidden(false);
    await waitFor(() => apiRequests.some((at) => at > hiddenAt + 3000), { what: 'polling to resume' });
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('after repeated failures the follower stops, says so, and Reconnect resumes', async () => {
    const { context, page, problems } = await openPage();
    const topic = await createTopic(context.request, server.base, 'Flaky network');
    await context.addInitScript(() => {
      delete window.EventSource;
    });
    // The page's timers run on Playwright's clock so that the backoff (seconds) can be skipped.
    await page.clock.install();
    let failures = 0;
    await page.route('**/api/topics/*/blueprints/*/status', (route) => {
      failures += 1;
      return route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: '{"error":{"code":"service_unavailable","message":"down"}}',
      });
    });
    const started = await (
      await context.request.post(`${server.base}/api/topics/${topic.id}/blueprints/generate`, {
        data: { target_terminal_objectives: 30 },
      })
    ).json();
    await page.goto(`${server.base}/topics/${topic.id}/blueprints/generate-status?blueprint=${started.id}`);
    for (let seen = 1; seen < 6; seen += 1) {
      // Once the page says so, its retry timer is set: only then skip ahead.
      await page.getByText(`(${seen} failed ${seen === 1 ? 'try' : 'tries'} in a row)`).waitFor();
      await page.clock.fastForward(31_000); // past the longest backoff step
    }
    await page.getByText('Live updates stopped after 6 failed attempts.').waitFor();
    await page.clock.fastForward(120_000);
    assert.equal(failures, 6, 'no more requests after giving up');
    await screenshot(page, '14-status-reconnect');

    await page.unroute('**/api/topics/*/blueprints/*/status');
    await page.getByRole('button', { name: 'Reconnect' }).click();
    await page.getByText(/Checking every \d+ s\./).waitFor();
    assert.ok((await valueNow(page)) >= 5);
    assert.deepEqual(
      problems.filter((p) => !/status of 503/.test(p)),
      [],
    );
    await context.close();
  });

  test('the jobs dashboard shows live progress and cancels', async () => {
    const { context, page, problems } = await openPage();
    const topic = await createTopic(context.request, server.base, 'Cell biology');
    const blueprintId = await startFromGeneratePage(page, server.base, topic.id, 30);
    await page.goto(`${server.base}/jobs`);
    const row = page.locator(`tr[data-job="${blueprintId}"]`);
    await row.waitFor();
    const bar = row.getByRole('progressbar');
    const first = Number(await bar.getAttribute('aria-valuenow'));
    await waitFor(async () => Number(await row.getByRole('progressbar').getAttribute('aria-valuenow')) > first, {
      what: 'the dashboard to update by itself',
    });
    await screenshot(page, '10-jobs');
    await row.getByRole('button', { name: 'Cancel generation of Cell biology' }).click();
    await page.waitForURL(/\/jobs$/);
    await page.locator(`tr[data-job="${blueprintId}"][data-status="cancelled"]`).waitFor();
    await page.setViewportSize(PHONE);
    await screenshot(page, '10-jobs-phone');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('forms work without JavaScript', async () => {
    const { context, page } = await openPage({ javaScriptEnabled: false });
    await page.goto(`${server.base}/topics`);
    // A blank title (spaces pass the browser's `required`) comes back with the message, 422,
    // and what was typed.
    await page.getByLabel('Title').fill('   ');
    await page.getByLabel('Description').fill('Kept after the error');
    const [rejected] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Create topic' }).click(),
    ]);
    assert.equal(rejected.status(), 422);
    await page.getByText('Title must not be empty.').first().waitFor();
    assert.equal(await page.getByLabel('Description').inputValue(), 'Kept after the error');
    await screenshot(page, '11-nojs-topic-errors');

    // Without JavaScript the file itself is uploaded and read by the server.
    await page.getByLabel('Title').fill('Volcanoes');
    await page.getByLabel('Or upload a file').setInputFiles({
      name: 'volcanoes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from(LECTURE),
    });
    await page.getByRole('button', { name: 'Create topic' }).click();
    await page.waitForURL(/\/topics\/[0-9a-f-]{36}$/);
    const topicId = page.url().split('/').pop();
    const topic = await (await context.request.get(`${server.base}/api/topics/${topicId}`)).json();
    assert.equal(topic.source_text, LECTURE);
    assert.equal(topic.description, 'Kept after the error');

    await page.getByRole('button', { name: 'Generate blueprint' }).click();
    await page.getByLabel('Terminal objectives to aim for').fill('30');
    await page.getByRole('button', { name: 'Start generation' }).click();
    await page.waitForURL(/generate-status\?blueprint=/);
    const blueprintId = new URL(page.url()).searchParams.get('blueprint');
    await page.getByRole('progressbar').waitFor();
    await screenshot(page, '12-nojs-status');

    // Starting again while it runs leads to the running job, not to an error.
    await page.goto(`${server.base}/topics/${topicId}/blueprints/generate`);
    await page.getByRole('button', { name: 'Start generation' }).click();
    await page.waitForURL(/generate-status\?blueprint=/);
    assert.equal(new URL(page.url()).searchParams.get('blueprint'), blueprintId);
    await page.getByText('A generation was already running for this topic').waitFor();

    await page.getByRole('button', { name: 'Cancel generation' }).click();
    await page.waitForURL(/generate-status\?blueprint=/);
    await page.getByText('This generation was cancelled.').waitFor();
    assert.equal((await apiStatus(context, server.base, topicId, blueprintId)).status, 'cancelled');
    await context.close();
  });

  test('sign up, see the user menu, log out, log in again and find the topic', async () => {
    const { context, page, problems } = await openPage({ anonymous: true });
    const email = freshEmail('flow');
    // Anonymous: any page leads to the log-in page, and back there afterwards.
    await page.goto(`${server.base}/topics`);
    assert.match(page.url(), /\/login\?next=%2Ftopics$/);
    await screenshot(page, '15-login');
    await page.getByRole('link', { name: 'Sign up' }).click();
    await page.waitForURL(/\/signup/);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await screenshot(page, '16-signup');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.waitForURL(/\/topics$/);

    const menu = page.getByRole('group', { name: 'Your account' });
    await menu.getByText(email).waitFor();
    assert.equal(await menu.getByRole('link', { name: 'API tokens' }).count(), 1);
    assert.equal(await menu.getByRole('button', { name: 'Log out' }).count(), 1);
    const [cookie] = (await context.cookies()).filter((c) => c.name === 'qm_session');
    assert.ok(cookie?.httpOnly, 'the session cookie is HttpOnly');
    assert.equal(cookie.sameSite, 'Lax');

    await page.getByLabel('Title').fill('Account flow topic');
    await page.getByRole('button', { name: 'Create topic' }).click();
    await page.waitForURL(/\/topics\/[0-9a-f-]{36}$/);
    const topicUrl = page.url();
    await screenshot(page, '17-topic-with-user-menu');

    // An API token: shown once on the page that creates it, then only listed.
    await menu.getByRole('link', { name: 'API tokens' }).click();
    await page.waitForURL(/\/account\/tokens$/);
    await page.getByLabel('Name').fill('grading script');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByText('this is the only time it is shown').waitFor();
    const secret = (await page.locator('#new-token').textContent()).trim();
    assert.match(secret, /^qmt_[A-Za-z0-9_-]{43}$/);
    await screenshot(page, '18-token-created');
    await page.goto(`${server.base}/account/tokens`);
    await page.getByRole('cell', { name: 'grading script', exact: true }).waitFor();
    assert.equal((await page.content()).includes(secret), false, 'never shown again');
    await page.getByRole('button', { name: 'Revoke token grading script' }).click();
    await page.getByText('The token was revoked').waitFor();

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login$/);
    await page.goto(topicUrl);
    assert.match(page.url(), /\/login\?next=/, 'logged out: the topic needs a log-in');
    await page.goto(`${server.base}/topics`);
    assert.match(page.url(), /\/login\?next=%2Ftopics$/);

    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(/\/topics$/);
    await page.getByRole('link', { name: 'Account flow topic' }).waitFor();
    await page.setViewportSize(PHONE);
    await screenshot(page, '19-topics-logged-in-phone');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a form posted from another site is refused, even with the cookie', async () => {
    const { context } = await openPage();
    const response = await context.request.post(`${server.base}/topics`, {
      headers: { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
      form: { title: 'Injected' },
      maxRedirects: 0,
    });
    assert.equal(response.status(), 403);
    const list = await (await context.request.get(`${server.base}/api/topics?limit=100`)).json();
    assert.equal(list.items.some((t) => t.title === 'Injected'), false);
    await context.close();
  });

  test('a hostile topic title is shown as text and runs nothing', async () => {
    const { context, page, problems } = await openPage();
    const dialogs = [];
    page.on('dialog', async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    const hostile = '<script>window.__pwned = 1; alert(1)</script><img src=x onerror="window.__pwned = 2; alert(2)">';
    // Through the page's own form, as a teacher (or an attacker with an account) would.
    await page.goto(`${server.base}/topics`);
    await page.getByLabel('Title').fill(hostile);
    await page.getByRole('button', { name: 'Create topic' }).click();
    await page.waitForURL(/\/topics\/[0-9a-f-]{36}$/);
    await assert.doesNotReject(page.getByRole('heading', { name: hostile }).waitFor());
    for (const path of ['', '/topics', '/jobs']) {
      if (path) await page.goto(`${server.base}${path}`);
      assert.equal(await page.evaluate(() => window.__pwned ?? null), null, `nothing ran on ${path || 'the topic page'}`);
      assert.equal(await page.locator('img[src="x"]').count(), 0, 'no injected element');
    }
    await page.goto(`${server.base}/topics`);
    await assert.doesNotReject(page.getByText(hostile).first().waitFor());
    assert.deepEqual(dialogs, []);
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('web UI with a 1 s generation timeout', { skip: skip ?? false }, () => {
  let slow;
  before(async () => {
    slow = await startServer({
      QUIZMASTER_OFFLINE_PACE_MS: '400',
      QUIZMASTER_GENERATION_TIMEOUT_SECS: '1',
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    browser = null;
    await slow?.stop();
  });

  test('a timeout shows the error toast with the message and Try again', async () => {
    const { context, page, problems } = await openPage({ base: slow.base });
    const topic = await createTopic(context.request, slow.base, 'Quantum mechanics');
    const blueprintId = await startFromGeneratePage(page, slow.base, topic.id, 30);
    const alert = page.getByRole('alert').filter({ hasText: 'Generation timed out' });
    await alert.waitFor({ timeout: 30000 });
    assert.equal((await apiStatus(context, slow.base, topic.id, blueprintId)).error_code, 'timeout');
    await screenshot(page, '13-status-error');
    await alert.getByRole('button', { name: 'Try again' }).click();
    await page.waitForURL(/generate-status\?blueprint=/);
    const again = new URL(page.url()).searchParams.get('blueprint');
    assert.notEqual(again, blueprintId, 'Try again starts a new generation');
    const retried = await apiStatus(context, slow.base, topic.id, again);
    assert.equal(retried.target_terminal_objectives, 30, 'with the same target');
    assert.deepEqual(problems, []);
    await context.close();
  });
});
