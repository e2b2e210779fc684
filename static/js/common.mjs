// Small improvements on every page: dates in the reader's own time zone, in the one format the
// server writes them in ("2 Dec 2026, 21:15 UTC"), so a date reads the same whether this script
// ran or not, and on every page.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const ZONE = new Intl.DateTimeFormat('en', { timeZoneName: 'short' });

/** `2 Dec 2026, 22:15 GMT+1`: the server's format, in this browser's time zone. */
export function formatLocal(date) {
  const pad = (n) => String(n).padStart(2, '0');
  const zone = ZONE.formatToParts(date).find((part) => part.type === 'timeZoneName')?.value;
  const day = `${date.getDate()} ${MONTHS[date.getMonth()]} ${date.getFullYear()}`;
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  return zone ? `${day}, ${time} ${zone}` : `${day}, ${time}`;
}

/** Rewrites every `<time data-local>` under `root` in the reader's time zone. */
export function localizeTimes(root) {
  for (const time of root.querySelectorAll('time[data-local]')) {
    const date = new Date(time.dateTime);
    if (!Number.isNaN(date.getTime())) {
      time.title = time.getAttribute('title') || time.textContent;
      time.textContent = formatLocal(date);
    }
  }
}

if (globalThis.document) localizeTimes(globalThis.document);
