// Mist's WAN SLEs of a site (the rows document's sites[i][2], DATA.md §3.2): three values and
// the grade the server decided for each (good / fair / poor). This module only shows them.

import { el } from './format.js';

export const SLE_PARTS = [
  ['gateway-health', 'GW', 'Gateway health'],
  ['wan-link-health', 'WAN', 'WAN link health'],
  ['application-health', 'App', 'Application health'],
];

/** Per cent with one decimal, cut (never rounded up to a line the value is below). */
export function slePercent(value) {
  if (value === null || value === undefined) return '–';
  return (Math.floor(value * 1000 + 1e-9) / 10).toFixed(1);
}

/** "SLE 99.8·96.2·94.1": gateway, WAN link and application health in per cent, each
 *  coloured by the server's grade, the names on hover and for screen readers; null without. */
export function sleNode(sle) {
  if (!sle || !SLE_PARTS.some(([name]) => sle[name] !== null && sle[name] !== undefined)) return null;
  const words = [];
  const parts = [];
  for (const [name, , long] of SLE_PARTS) {
    const grade = (sle.grades && sle.grades[name]) || 'none';
    const shown = slePercent(sle[name]);
    words.push(`${long} ${shown === '–' ? 'unknown' : `${shown} %`}${grade === 'none' ? '' : ` (${grade})`}`);
    if (parts.length) parts.push(el('span', { class: 'sle-sep', 'aria-hidden': 'true', text: '·' }));
    parts.push(el('span', { class: `sle-value sle-${grade}`, 'data-sle': name, text: shown }));
  }
  const title = `Mist WAN SLE, last hour: ${words.join(', ')}`;
  return el('span', { class: 'site-sle', 'data-grade': sle.grade || '', title },
    el('span', { class: 'visually-hidden', text: `${title}.` }),
    el('span', { class: 'sle-label', 'aria-hidden': 'true', text: 'SLE ' }),
    el('span', { 'aria-hidden': 'true' }, ...parts));
}

/** The words for a site's SLE in a <select> option: " · SLE fair (WAN 90.0 %)". */
export function sleText(sle) {
  if (!sle || !sle.grade) return '';
  const worst = SLE_PARTS.find(([name]) => sle.grades && sle.grades[name] === sle.grade);
  return worst ? ` · SLE ${sle.grade} (${worst[1]} ${slePercent(sle[worst[0]])} %)` : ` · SLE ${sle.grade}`;
}
