// Cells of the gateway table (table.js) that carry a moment, a volume or a count: each is
// drawn from the server's figures as sent (the server decides what is bad or partial).

import { el, formatBytes, formatDateTime, formatDuration } from './format.js';
import { icon } from './icons.js';

/** Seconds since an epoch moment, by this browser's clock (never negative). */
export function secondsSince(moment) {
  return typeof moment === 'number' && moment > 0 ? Math.max(0, Date.now() / 1000 - moment) : null;
}

/** "2 d 19 h" with the moment itself (and its time zone) on focus or long-press. */
export function sinceNode(moment, prefix = '', siteId = '') {
  const seconds = secondsSince(moment);
  if (seconds === null) return el('span', { class: 'text-body-secondary', text: '—' });
  return el('time', {
    datetime: new Date(moment * 1000).toISOString(),
    title: formatDateTime(moment, siteId),
    text: `${prefix}${formatDuration(seconds)}`,
  });
}

/** "↓ 2.5 GB  ↑ 310 MB"; a partial volume (the server's `partial`: the history does not reach
 *  back over the whole window yet) is a lower bound and says so, never the window's volume.
 *  `at`: when the server reckoned it (shown on focus or long-press). */
export function volumeNodes(rx, tx, partial, at, siteId) {
  const least = partial ? '≥ ' : '';
  const figures = el('span', { class: 'volume', title: at ? `reckoned ${formatDateTime(at, siteId)}` : null,
    text: `↓ ${least}${formatBytes(rx)}  ↑ ${least}${formatBytes(tx)}` });
  return [figures, partial ? el('span', { class: 'unresolved', text: ', history filling' }) : null];
}

/** A count that is bad gets a mark besides its colour. */
export function countNode(up, total, bad) {
  const node = el('span', { text: `${up ?? 0}/${total ?? 0}` });
  if (!bad) return node;
  return el('span', { class: 'count-bad' }, icon('x-circle-fill'), ' ', node,
    el('span', { class: 'visually-hidden', text: ' (some down)' }));
}
