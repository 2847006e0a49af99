// Mist's WAN SLEs of a site (the rows document's sites[i][2], DATA.md §3.2): three values and
// the grade the server decided for each (good / fair / poor). This module only shows them.

import { el } from './format.js';

export const SLE_PARTS = [
  ['gateway-health', 'GW', 'Gateway health'],
  ['wan-link-health', 'WAN', 'WAN link health'],
  ['application-health', 'App', 'Application health'],
];

function percent(value, unit = ' %') {
  return value === null || value === undefined ? '—' : `${(value * 100).toFixed(1)}${unit}`;
}

/** "GW 99.8 · WAN 96.2 · App 94.1" (per cent), each coloured by its grade; null without SLEs. */
export function sleNode(sle) {
  if (!sle) return null;
  const parts = [];
  for (const [name, short, long] of SLE_PARTS) {
    if (sle[name] === null || sle[name] === undefined) continue;
    const grade = (sle.grades && sle.grades[name]) || '';
    if (parts.length) parts.push(' · ');
    parts.push(el('span', { class: `sle-value sle-${grade}`, title: `${long}: ${percent(sle[name])} (${grade})` },
      `${short} ${percent(sle[name], '')}`));
  }
  if (!parts.length) return null;
  return el('span', { class: `site-sle sle-site-${sle.grade || 'none'}`, 'data-grade': sle.grade || '' },
    el('span', { class: 'visually-hidden', text: `WAN SLE ${sle.grade || ''} (per cent): ` }), ...parts);
}

/** The words for a site's SLE in a <select> option: " · SLE fair (WAN 96.2 %)". */
export function sleText(sle) {
  if (!sle || !sle.grade) return '';
  const worst = SLE_PARTS.filter(([name]) => sle.grades && sle.grades[name] === sle.grade)[0];
  return worst ? ` · SLE ${sle.grade} (${worst[1]} ${percent(sle[worst[0]])})` : ` · SLE ${sle.grade}`;
}
