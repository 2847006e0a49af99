// The traffic dialog of one WAN port: rx/tx rate (or bytes per step) on a true time axis;
// null samples are gaps.
// uPlot is loaded on first use so the page's first load stays small.

import { getTraffic } from './api.js';
import { formatBits, formatBytes, formatDateTime, shownTimeZone, text, timeZoneOption } from './format.js';
import { setUpDialog } from './dialogs.js';

const RX_COLOUR = '#E20074';
const TX_COLOUR = '#36c0ff';
let uPlotModule = null;

async function loadUPlot() {
  if (!uPlotModule) uPlotModule = import('../vendor/uplot/uPlot.esm.js');
  return (await uPlotModule).default;
}

/** Time ticks in 24 h clock in the chosen time zone (the site's, with site time chosen);
 *  midnight (and every tick of the 7 d chart) names the day. */
function timeTicks(range, timeZone) {
  const CLOCK = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone });
  const DAY = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', timeZone });
  return (u, ticks) => ticks.map((t) => {
    const date = new Date(t * 1000);
    const midnight = CLOCK.format(date) === '00:00';
    if (range === '7d') return midnight ? DAY.format(date) : `${DAY.format(date)} ${CLOCK.format(date)}`;
    return midnight ? `${DAY.format(date)}\n${CLOCK.format(date)}` : CLOCK.format(date);
  });
}

/** What this browser kept of the user's last choice (nothing when storage is off). */
function remembered(name) {
  try {
    return window.localStorage.getItem(name);
  } catch {
    return null;
  }
}

function remember(name, value) {
  try {
    window.localStorage.setItem(name, value);
  } catch {
    // private mode: the choice lasts as long as the page
  }
}

function stepText(step) {
  if (!step) return '';
  return step >= 3600 ? `${step / 3600} h` : `${Math.round(step / 60)} min`;
}

function stats(values) {
  const numbers = values.filter((value) => typeof value === 'number');
  if (!numbers.length) return null;
  return { avg: numbers.reduce((a, b) => a + b, 0) / numbers.length, peak: Math.max(...numbers), count: numbers.length };
}

export class TrafficDialog {
  constructor(dialog) {
    this.dialog = dialog;
    this.controls = setUpDialog(dialog, () => this.clear());
    this.title = dialog.querySelector('#traffic-title');
    this.box = dialog.querySelector('#traffic-chart');
    this.summary = dialog.querySelector('#traffic-summary');
    this.buttons = [...dialog.querySelectorAll('[data-range]')];
    this.viewButtons = [...dialog.querySelectorAll('[data-view]')];
    // The range and view last chosen (the ranges are the server's: a stale one is dropped).
    const ranges = this.buttons.map((button) => button.dataset.range);
    const saved = remembered('traffic-range');
    this.range = ranges.includes(saved) ? saved : ranges.includes('24h') ? '24h' : ranges[0];
    this.view = remembered('traffic-view') === 'bytes' ? 'bytes' : 'bps';
    this.plot = null;
    this.abort = null;
    this.series = null;
    this.uPlot = null;
    for (const button of this.buttons) {
      button.addEventListener('click', () => {
        remember('traffic-range', button.dataset.range);
        this.load(button.dataset.range);
      });
    }
    for (const button of this.viewButtons) {
      button.addEventListener('click', () => this.show(button.dataset.view));
    }
    this.markView();
    window.addEventListener('resize', () => this.resize());
  }

  open(gateway, port, opener) {
    this.gateway = gateway;
    this.port = port;
    this.title.textContent = `Traffic: ${text(gateway.name)} · ${text(port.port_id)}${port.wan_name ? ` (${port.wan_name})` : ''}`;
    this.controls.open(opener);
    this.load(this.range);
  }

  /** Rate (bit/s) or data transferred (bytes per step), redrawn from the series at hand. */
  show(view) {
    this.view = view === 'bytes' ? 'bytes' : 'bps';
    remember('traffic-view', this.view);
    this.markView();
    if (this.series && this.uPlot && this.dialog.open) {
      if (this.plot) this.plot.destroy();
      this.plot = null;
      this.box.replaceChildren();
      this.draw(this.uPlot, this.series);
    }
  }

  markView() {
    for (const button of this.viewButtons) {
      const active = button.dataset.view === this.view;
      button.classList.toggle('active', active);
      button.setAttribute('aria-pressed', active ? 'true' : 'false');
    }
  }

  clear() {
    if (this.abort) this.abort.abort();
    this.abort = null;
    if (this.plot) this.plot.destroy();
    this.plot = null;
    this.series = null;
    this.box.replaceChildren();
  }

  async load(range) {
    this.range = range;
    for (const button of this.buttons) {
      const active = button.dataset.range === range;
      button.classList.toggle('active', active);
      button.setAttribute('aria-pressed', active ? 'true' : 'false');
    }
    this.clear();
    this.summary.textContent = 'Loading…';
    const abort = new AbortController();
    this.abort = abort;
    let series;
    let uPlot;
    try {
      [{ data: series }, uPlot] = await Promise.all([
        getTraffic(this.gateway.id, this.port.port_id, range, abort.signal),
        loadUPlot(),
      ]);
    } catch (error) {
      if (abort.signal.aborted) return;
      this.summary.textContent =
        error.status === 404 ? 'No traffic history for this WAN port yet.' : `Could not load traffic: ${error.message}`;
      return;
    }
    if (abort.signal.aborted || !this.dialog.open) return;
    this.series = series;
    this.uPlot = uPlot;
    this.draw(uPlot, series);
  }

  size() {
    const width = Math.max(280, this.box.clientWidth || 600);
    const height = Math.max(200, Math.min(380, Math.round(window.innerHeight * 0.45)));
    return { width, height };
  }

  resize() {
    if (this.plot && this.dialog.open) this.plot.setSize(this.size());
  }

  draw(uPlot, series) {
    const t = series.t || [];
    const site = this.gateway && this.gateway.site_id; // with site time chosen: the site's zone
    const zone = timeZoneOption(site);
    const bytes = this.view === 'bytes';
    const rx = (bytes ? series.rx_bytes : series.rx_bps) || [];
    const tx = (bytes ? series.tx_bytes : series.tx_bps) || [];
    const format = bytes ? formatBytes : formatBits;
    const axis = { stroke: '#adb5bd', grid: { stroke: 'rgba(255,255,255,0.08)' }, ticks: { stroke: 'rgba(255,255,255,0.15)' } };
    // Bytes per step are bars side by side (each step's volume); rates are lines.
    const bars = bytes && uPlot.paths && uPlot.paths.bars;
    const options = {
      ...this.size(),
      // uPlot draws its own clock for the x scale: with UTC chosen it is told so.
      tzDate: (ts) => (zone ? uPlot.tzDate(new Date(ts * 1000), zone === 'UTC' ? 'Etc/UTC' : zone) : new Date(ts * 1000)),
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1000] } },
      series: [
        { label: `Time (${shownTimeZone(site)})`, value: (u, v) => (v === null ? '—' : formatDateTime(v, site)) },
        { label: 'Receive (rx)', stroke: RX_COLOUR, fill: 'rgba(226,0,116,0.12)', width: 2, spanGaps: false, value: (u, v) => format(v),
          ...(bars ? { fill: 'rgba(226,0,116,0.55)', paths: bars({ size: [0.45, 40], align: -1 }) } : {}) },
        { label: 'Transmit (tx)', stroke: TX_COLOUR, width: 2, spanGaps: false, value: (u, v) => format(v),
          ...(bars ? { fill: 'rgba(54,192,255,0.55)', paths: bars({ size: [0.45, 40], align: 1 }) } : {}) },
      ],
      axes: [
        { ...axis, values: timeTicks(series.range, zone), space: 70, label: `Time (${shownTimeZone(site)})`, labelSize: 20 },
        { ...axis, size: 90, values: (u, ticks) => ticks.map((v) => format(v)) },
      ],
      cursor: { drag: { x: false, y: false } },
    };
    this.plot = new uPlot(options, [t, rx, tx], this.box);
    this.box.setAttribute('aria-label', bytes
      ? `Data received and transmitted per ${stepText(series.step)}`
      : 'Receive and transmit rate over time');
    const r = stats(rx);
    const x = stats(tx);
    const zoneText = `times in ${shownTimeZone(site)}`;
    const step = stepText(series.step);
    const stepLine = step ? (bytes ? `bytes per ${step}` : `one point per ${step}`) : '';
    if (!r && !x) {
      this.summary.textContent = `No traffic samples in the last ${series.range} yet (${t.length} steps, ${stepLine}).`;
      return;
    }
    const gaps = t.length - Math.max(r ? r.count : 0, x ? x.count : 0);
    const gapText = gaps > 0 ? `, ${gaps} step${gaps === 1 ? '' : 's'} without data (gaps)` : '';
    // The totals are the server's: the bytes of the steps that have data.
    this.summary.textContent = bytes
      ? `Transferred in the last ${series.range}: received ${formatBytes(series.rx_bytes_total)}, ` +
        `transmitted ${formatBytes(series.tx_bytes_total)} · ${stepLine}${gapText}; ${zoneText}.`
      : `Receive: average ${formatBits(r && r.avg)}, peak ${formatBits(r && r.peak)} · ` +
        `Transmit: average ${formatBits(x && x.avg)}, peak ${formatBits(x && x.peak)} · ` +
        `${stepLine}${gapText}; ${zoneText}.`;
  }
}
