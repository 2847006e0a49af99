// Availability (24 h / 7 d / 30 d) and flaps in each expanded WAN port card. The worker counts
// them (over the time it observed each port) and stores each gateway's figures; this module
// adds them to a port card as the table renders it, so table.js needs to know nothing of it.

import { getJSON } from './api.js';
import { el, formatDuration } from './format.js';

export const WINDOWS = ['24h', '7d', '30d'];
export const WINDOW_LABELS = { '24h': '24 h', '7d': '7 d', '30d': '30 d' };
const FRESH_MS = Number(document.body.dataset.pollMs) || 10000;
const cache = new Map(); // gateway id -> { at, promise }

/** One gateway's availability document, fetched at most once per poll interval. */
export function gatewayAvailability(gatewayId) {
  const hit = cache.get(gatewayId);
  const now = Date.now();
  if (hit && now - hit.at < FRESH_MS) return hit.promise;
  const url = `/api/gateway/${encodeURIComponent(gatewayId)}/availability`;
  const promise = getJSON(url).then((answer) => answer.data);
  promise.catch(() => cache.delete(gatewayId));
  cache.set(gatewayId, { at: now, promise });
  return promise;
}

/** 99.95 % (two decimals below 100), — when nothing was observed. */
export function percentText(value) {
  if (value === null || value === undefined) return '—';
  return value >= 100 ? '100 %' : `${value.toFixed(2)} %`;
}

/** ok / warn / bad colour band of an availability percentage. */
export function levelOf(value) {
  if (value === null || value === undefined) return 'none';
  if (value >= 99.9) return 'ok';
  return value >= 99 ? 'warn' : 'bad';
}

function windowValues(values, format, className) {
  return el('span', { class: 'sla-windows' },
    ...WINDOWS.map((name, index) => el('span', { class: `sla-window ${className ? className(values[index]) : ''}`, 'data-window': name },
      el('span', { class: 'sla-window-name', text: WINDOW_LABELS[name] }),
      el('span', { class: 'sla-window-value', text: format(values[index]) }))));
}

/** The dt/dd pairs a port card gets: availability, flaps, and time down and degraded. */
export function availabilityFacts(row) {
  const availability = row.availability || [];
  const flaps = row.flaps || [];
  const down = row.down_s || [];
  const degraded = row.degraded_s || [];
  const last = WINDOWS.length - 1;
  return [
    el('dt', { text: 'Availability' }),
    el('dd', { class: 'sla-availability' },
      windowValues(availability, percentText, (value) => `sla-${levelOf(value)}`)),
    el('dt', { text: 'Flaps' }),
    el('dd', { class: 'sla-flaps' }, windowValues(flaps, (value) => String(value ?? 0),
      (value) => (value ? 'sla-warn' : ''))),
    el('dt', { text: 'Down, 30 d' }),
    el('dd', { class: 'sla-down', text: `${formatDuration(down[last] || 0)} down · ${formatDuration(degraded[last] || 0)} degraded` }),
  ];
}

function decorate(card) {
  if (card.dataset.availability) return;
  card.dataset.availability = 'pending';
  const { gateway, port } = card.dataset;
  gatewayAvailability(gateway)
    .then((document_) => {
      const row = (document_.ports || []).find((entry) => entry.port_id === port);
      const facts = card.querySelector('.port-facts');
      if (!row || !facts || !card.isConnected) {
        card.dataset.availability = 'none';
        return;
      }
      facts.append(...availabilityFacts(row));
      card.dataset.availability = 'shown';
    })
    .catch(() => {
      card.dataset.availability = 'none'; // not counted yet (or the server is away): no facts
    });
}

/** Watch `root` (the table body) for port cards and add their availability. */
export function startAvailability(root) {
  if (!root) return;
  const visit = (node) => {
    if (node.nodeType !== 1) return;
    if (node.matches('.port-card[data-gateway]')) decorate(node);
    for (const card of node.querySelectorAll('.port-card[data-gateway]')) decorate(card);
  };
  new MutationObserver((records) => {
    for (const record of records) for (const node of record.addedNodes) visit(node);
  }).observe(root, { childList: true, subtree: true });
  visit(root);
}
