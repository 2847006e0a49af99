// The traffic dialog of one WAN port: rx/tx rate on a true time axis; null samples are gaps.
// uPlot is loaded on first use so the page's first load stays small.

import { getTraffic } from './api.js';
import { formatBits, formatDateTime, shownTimeZone, text, timeZoneOption } from './format.js';
import { setUpDialog } from './dialogs.js';

const RX_COLOUR = '#E20074';
const TX_COLOUR = '#36c0ff';
let uPlotModule = null;

async function loadUPlot() {
  if (!uPlotModule) uPlotModule = import('../vendor/uplot/uPlot.esm.js');
  return (await uPlotModule).default;
}

/** Time ticks in 24 h clock in the chosen time zone; midnight (and every tick of the 7 d
 *  chart) names the day. */
function timeTicks(range) {
  const timeZone = timeZoneOption();
  const CLOCK = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone });
  const DAY = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', timeZone });
  return (u, ticks) => ticks.map((t) => {
    const date = new Date(t * 1000);
    const midnight = CLOCK.format(date) === '00:00';
    if (range === '7d') return midnight ? DAY.format(date) : `${DAY.format(date)} ${CLOCK.format(date)}`;
    return midnight ? `${DAY.format(date)}\n${CLOCK.format(date)}` : CLOCK.format(date);
  });
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
    this.range = '24h';
    this.plot = null;
    this.abort = null;
    for (const button of this.buttons) {
      button.addEventListener('click', () => this.load(button.dataset.range));
    }
    window.addEventListener('resize', () => this.resize());
  }

  open(gateway, port, opener) {
    this.gateway = gateway;
    this.port = port;
    this.title.textContent = `Traffic: ${text(gateway.name)} · ${text(port.port_id)}${port.wan_name ? ` (${port.wan_name})` : ''}`;
    this.controls.open(opener);
    this.load(this.range);
  }

  clear() {
    if (this.abort) this.abort.abort();
    this.abort = null;
    if (this.plot) this.plot.destroy();
    this.plot = null;
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
    const rx = series.rx_bps || [];
    const tx = series.tx_bps || [];
    const axis = { stroke: '#adb5bd', grid: { stroke: 'rgba(255,255,255,0.08)' }, ticks: { stroke: 'rgba(255,255,255,0.15)' } };
    const options = {
      ...this.size(),
      // uPlot draws its own clock for the x scale: with UTC chosen it is told so.
      tzDate: (ts) => (timeZoneOption() === 'UTC' ? uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') : new Date(ts * 1000)),
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1000] } },
      series: [
        { value: (u, v) => (v === null ? '—' : formatDateTime(v)) },
        { label: 'Receive (rx)', stroke: RX_COLOUR, fill: 'rgba(226,0,116,0.12)', width: 2, spanGaps: false, value: (u, v) => formatBits(v) },
        { label: 'Transmit (tx)', stroke: TX_COLOUR, width: 2, spanGaps: false, value: (u, v) => formatBits(v) },
      ],
      axes: [
        { ...axis, values: timeTicks(series.range), space: 70 },
        { ...axis, size: 90, values: (u, ticks) => ticks.map((v) => formatBits(v)) },
      ],
      cursor: { drag: { x: false, y: false } },
    };
    this.plot = new uPlot(options, [t, rx, tx], this.box);
    const r = stats(rx);
    const x = stats(tx);
    const zoneText = `times in ${shownTimeZone()}`;
    const stepText = series.step ? `one point per ${series.step >= 3600 ? `${series.step / 3600} h` : `${Math.round(series.step / 60)} min`}` : '';
    if (!r && !x) {
      this.summary.textContent = `No traffic samples in the last ${series.range} yet (${t.length} steps, ${stepText}).`;
      return;
    }
    const gaps = t.length - Math.max(r ? r.count : 0, x ? x.count : 0);
    this.summary.textContent =
      `Receive: average ${formatBits(r && r.avg)}, peak ${formatBits(r && r.peak)} · ` +
      `Transmit: average ${formatBits(x && x.avg)}, peak ${formatBits(x && x.peak)} · ` +
      `${stepText}${gaps > 0 ? `, ${gaps} step${gaps === 1 ? '' : 's'} without data (gaps)` : ''}; ${zoneText}.`;
  }
}
