// Shared by the end-to-end tests: a real `quizmaster serve` child process on a free port with
// its own SQLite file, and Debian's Chromium driven by playwright-core.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BINARY = process.env.QUIZMASTER_BIN ?? join(ROOT, 'target', 'debug', 'quizmaster');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'test-output', 'screenshots');

/** Why the browser tests cannot run here, or null. In CI a missing browser is a failure. */
export function missingPrerequisite() {
  if (!existsSync(BINARY)) return `${BINARY} is missing: run cargo build first`;
  if (!existsSync(CHROMIUM)) {
    const why = `${CHROMIUM} is missing: apt-get install chromium`;
    if (process.env.CI === 'true') throw new Error(`CI needs Chromium for the browser tests: ${why}`);
    return why;
  }
  return null;
}

/** Starts `quizmaster serve` on 127.0.0.1:0 with a fresh database; resolves once it listens. */
export async function startServer(env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'quizmaster-e2e-'));
  const child = spawn(BINARY, ['serve'], {
    env: {
      ...process.env,
      QUIZMASTER_BIND: '127.0.0.1:0',
      QUIZMASTER_DATABASE_URL: `sqlite://${join(dir, 'e2e.db')}`,
      QUIZMASTER_SHUTDOWN_GRACE_SECS: '0',
      RUST_LOG: 'info',
      NO_COLOR: '1',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 30 s:\n${log}`)), 30000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const match = log.match(/listening on (http:\/\/[^\s"]+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening:\n${log}`));
    });
  });
  return {
    base,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Launches headless Chromium with the flags this closed network needs. */
export async function launchBrowser() {
  // launch() gives Chromium a fresh, empty profile directory of its own each time.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: process.env.SHOT_VIEWPORT ? false : true });
}

export const PASSWORD = 'correct horse battery staple';
let accounts = 0;

/** A new, unused email address for one test's account. */
export function freshEmail(label = 'teacher') {
  accounts += 1;
  return `${label}-${process.pid}-${Date.now()}-${accounts}@example.org`;
}

/**
 * Signs a fresh user up through the JSON API with the browser context's own request helper,
 * so the session cookie lands in the context (faster than the sign-up page, which the account
 * test drives). Resolves to the user.
 */
export async function signUp(context, base, email = freshEmail()) {
  const response = await context.request.post(`${base}/api/auth/signup`, {
    data: { email, password: PASSWORD },
  });
  if (response.status() !== 201) throw new Error(`sign-up: ${response.status()} ${await response.text()}`);
  return response.json();
}

/**
 * The lecture the job tests give their topics (tests/fixtures/README.md): the offline generator
 * writes only as many terminal objectives as a source supports, and this one supports 30.
 */
export const LECTURE = readFileSync(new URL('../tests/fixtures/lecture.md', import.meta.url), 'utf8');

/**
 * Creates a topic through the JSON API (for tests that are not about the topic form), as the
 * user whose cookie `request` (a context's `request`) carries; its source is the lecture unless
 * `extra` says otherwise.
 */
export async function createTopic(request, base, title, extra = {}) {
  const response = await request.post(`${base}/api/topics`, {
    data: { title, source_text: LECTURE, ...extra },
  });
  if (response.status() !== 201) throw new Error(`create topic: ${response.status()}`);
  return response.json();
}

/** Polls a condition until it holds or the deadline passes. */
export async function waitFor(condition, { timeoutMs = 15000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
