// The ISP view: every ISP ranked by availability, then quality (the worker ranks them in
// /api/isps), with its circuits, flaps, latency, jitter and loss, and its worst circuits.

import { getJSON } from './api.js';
import { el, text } from './format.js';
import { WINDOWS, WINDOW_LABELS, levelOf, percentText } from './availability.js';

function number(value, digits, unit) {
  return value === null || value === undefined ? '—' : `${Number(value).toFixed(digits)}${unit}`;
}

function spread(entry, digits, unit) {
  if (!entry) return '—';
  return `${number(entry.mean, digits, unit)} / ${number(entry.p95, digits, unit)}`;
}

function worstList(worst) {
  if (!worst || !worst.length) return el('span', { class: 'text-body-secondary', text: '—' });
  return el('ul', { class: 'isp-worst' }, ...worst.map((circuit) =>
    el('li', {},
      el('span', { class: 'isp-worst-name', text: `${text(circuit.gateway_name, circuit.gateway_id)} ${text(circuit.port_id)}` }),
      ' ',
      el('span', { class: `sla-${levelOf(circuit.availability_30d)}`, text: percentText(circuit.availability_30d) }),
      circuit.flaps_30d ? el('span', { class: 'text-body-secondary', text: ` · ${circuit.flaps_30d} flaps` }) : null)));
}

/** One ISP's table row. */
export function ispRow(isp) {
  return el('tr', { 'data-isp': isp.isp },
    el('td', { class: 'isp-rank', text: String(isp.rank) }),
    el('th', { scope: 'row', class: 'isp-name' }, el('span', { text: isp.isp }),
      isp.asns && isp.asns.length ? el('span', { class: 'small text-body-secondary d-block', text: isp.asns.map((asn) => `AS${asn}`.replace(/^ASAS/, 'AS')).join(' ') }) : null),
    el('td', { class: 'isp-circuits', text: `${isp.up}/${isp.circuits}` }),
    ...WINDOWS.map((window) => {
      const value = isp.availability ? isp.availability[window] : null;
      return el('td', { class: `isp-availability sla-${levelOf(value)}`, 'data-window': window, text: percentText(value) });
    }),
    el('td', { class: 'isp-flaps', text: String(isp.flaps ? isp.flaps['7d'] : 0) }),
    el('td', { text: spread(isp.latency, 0, ' ms') }),
    el('td', { text: spread(isp.jitter, 1, ' ms') }),
    el('td', { text: spread(isp.loss, 2, ' %') }),
    el('td', { text: number(isp.mos && isp.mos.mean, 2, '') }),
    el('td', {}, worstList(isp.worst)));
}

/** The ISP view: loaded when shown, reloaded (by ETag) as refreshes land. */
export class IspView {
  constructor(root) {
    this.root = root;
    this.body = root.querySelector('#isp-rows');
    this.status = root.querySelector('#isp-status');
    this.etag = null;
    for (const window of WINDOWS) {
      const cell = root.querySelector(`[data-isp-window="${window}"]`);
      if (cell) cell.textContent = WINDOW_LABELS[window];
    }
  }

  async load() {
    try {
      const answer = await getJSON('/api/isps', { etag: this.etag });
      if (answer.notModified) return;
      this.etag = answer.etag;
      this.render(answer.data);
    } catch (error) {
      this.status.textContent = `ISPs not available: ${error.message}`;
      this.status.hidden = false;
    }
  }

  render(document_) {
    const isps = document_.isps || [];
    this.body.replaceChildren(...isps.map(ispRow));
    this.status.hidden = isps.length > 0;
    if (!isps.length) this.status.textContent = 'No ISP known yet: the worker has not counted a WAN port.';
  }
}
