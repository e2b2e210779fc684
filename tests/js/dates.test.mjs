// The pages' dates: the script rewrites them in the reader's time zone, in the same format the
// server writes (src/http/ui/views.rs, `human_time`), so a date never reads two ways.
process.env.TZ = 'UTC';

import { test } from 'node:test';
import assert from 'node:assert/strict';

const { formatLocal, localizeTimes } = await import('../../static/js/common.mjs');

test('a date in UTC reads exactly as the server writes it', () => {
  assert.equal(formatLocal(new Date('2026-12-02T21:15:00Z')), '2 Dec 2026, 21:15 UTC');
  assert.equal(formatLocal(new Date('2027-01-09T05:03:00Z')), '9 Jan 2027, 05:03 UTC');
});

test('every <time data-local> is rewritten, and an unreadable one is left alone', () => {
  const times = [
    { dateTime: '2026-12-02T21:15:00Z', textContent: 'server text', getAttribute: () => null },
    { dateTime: 'not a date', textContent: 'kept', getAttribute: () => null },
  ];
  localizeTimes({ querySelectorAll: (selector) => (selector === 'time[data-local]' ? times : []) });
  assert.equal(times[0].textContent, '2 Dec 2026, 21:15 UTC');
  assert.equal(times[0].title, 'server text');
  assert.equal(times[1].textContent, 'kept');
});
