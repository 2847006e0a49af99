// Formatting and DOM helpers. Every value from Mist reaches the page through `el` as text:
// nothing here (or anywhere in the page) parses data as HTML.

import { icon } from './icons.js';

/** Create an element: `attrs.class` → className, `attrs.text` → textContent, others attributes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = String(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Text for a value Mist may leave out. */
export function text(value, fallback = '—') {
  return value === null || value === undefined || value === '' ? fallback : String(value);
}

function scaled(value, units, base) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  let index = 0;
  let number = Math.abs(value);
  while (number >= base && index < units.length - 1) {
    number /= base;
    index += 1;
  }
  const digits = number >= 100 || index === 0 ? 0 : number >= 10 ? 1 : 2;
  return `${value < 0 ? '-' : ''}${number.toFixed(digits)} ${units[index]}`;
}

/** A rate in bits per second (what the API gives): 48.2 Mbit/s. */
export function formatBits(bitsPerSecond) {
  return scaled(bitsPerSecond, ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'Tbit/s'], 1000);
}

/** A volume in bytes: 1.23 GB (decimal units, as ISPs bill). */
export function formatBytes(bytes) {
  return scaled(bytes, ['B', 'kB', 'MB', 'GB', 'TB', 'PB'], 1000);
}

/** Link speed in Mbit/s as Mist reports it: 1 Gbit/s, 100 Mbit/s. */
export function formatSpeed(mbps) {
  if (!mbps) return '—';
  return mbps >= 1000 ? `${mbps / 1000} Gbit/s` : `${mbps} Mbit/s`;
}

/** A duration in seconds, two units at most: 3 d 4 h, 5 h 12 min, 45 s. */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || seconds < 0) return '—';
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return h ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return m ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return `${m} min`;
  return `${s} s`;
}

/** How old something is, in words a NOC engineer reads at a glance. */
export function formatAge(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 10) return 'just now';
  return `${formatDuration(seconds)} ago`;
}

const dateTimes = new Map(); // zone → Intl formatter: costly to build, so only when needed
let mode = 'browser'; // 'browser', 'utc' or 'site' (each gateway's site, where Mist gives one)
let siteZones = new Map(); // site id → its IANA time zone (the rows document's zones)

/** Show every time in the browser's zone, in UTC ('UTC') or in each site's own ('site'). */
export function setTimeZone(zone) {
  mode = zone === 'UTC' ? 'utc' : zone === 'site' ? 'site' : 'browser';
}

/** The sites' time zones, as the server sent them (a Map: site id → zone, rows.js's siteZones). */
export function setSiteZones(zones) {
  siteZones = zones instanceof Map ? zones : new Map();
}

/** Whether this browser knows the zone (a zone it cannot read falls back to its own). */
const zonesKnown = new Map();
function known(zone) {
  if (!zonesKnown.has(zone)) {
    try {
      new Intl.DateTimeFormat(undefined, { timeZone: zone });
      zonesKnown.set(zone, true);
    } catch {
      zonesKnown.set(zone, false);
    }
  }
  return zonesKnown.get(zone);
}

/** The zone for Intl formatters: undefined (the browser's), 'UTC', or with site time chosen,
 *  the zone of the site `siteId` (the browser's when the site has none). */
export function timeZoneOption(siteId) {
  if (mode === 'utc') return 'UTC';
  if (mode === 'site' && siteId) {
    const zone = siteZones.get(siteId);
    if (zone && known(zone)) return zone;
  }
  return undefined;
}

/** The time zone times are shown in ('UTC', the site's, or the browser's, e.g. 'Europe/Berlin'). */
export function shownTimeZone(siteId) {
  return timeZoneOption(siteId) || Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
}

/** Epoch seconds as a date and time with its time zone (never just a clock); in the site's
 *  zone when site time is chosen and `siteId` names a site that has one. */
export function formatDateTime(epochSeconds, siteId) {
  if (!epochSeconds) return '—';
  const timeZone = timeZoneOption(siteId);
  let format = dateTimes.get(timeZone || '');
  if (!format) {
    format = new Intl.DateTimeFormat(undefined, {
      timeZone,
      timeZoneName: 'short',
      weekday: 'short',
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    dateTimes.set(timeZone || '', format);
  }
  return format.format(new Date(epochSeconds * 1000));
}

let numbers = null; // one formatter: toLocaleString() builds one on every call

/** 12,345 in the browser's locale (what Number#toLocaleString() gives). */
export function formatNumber(value) {
  if (value === null || value === undefined) return '—';
  numbers ||= new Intl.NumberFormat();
  return numbers.format(Number(value));
}

/** The colour thresholds the server sent with the rows (or payload) document: the only ones. */
export function thresholdsOf(payload) {
  return (payload && payload.thresholds) || {};
}

/** good / fair / warn / bad for a peer-path metric against the server's thresholds
 *  ('' when the server sent none for it). */
export function metricLevel(metric, value, thresholds) {
  if (value === null || value === undefined) return '';
  const bands = thresholds && thresholds[metric];
  if (!bands) return '';
  if (metric === 'mos') {
    if (value >= bands[0]) return 'good';
    return value >= bands[1] ? 'warn' : 'bad';
  }
  if (value < bands[0]) return 'good';
  if (value < bands[1]) return 'fair';
  return value < bands[2] ? 'warn' : 'bad';
}

export function formatMetric(metric, value) {
  if (value === null || value === undefined) return '—';
  if (metric === 'latency' || metric === 'jitter') return `${Number(value).toFixed(1)} ms`;
  if (metric === 'loss') return `${Number(value).toFixed(2)} %`;
  if (metric === 'mos') return Number(value).toFixed(2);
  return String(value);
}

const LEVEL_MARKS = { warn: ['exclamation-triangle-fill', 'poor'], bad: ['x-circle-fill', 'bad'] };

/** A cell or span that shows a metric with its colour band; a poor or bad value carries a
 *  mark and a word for screen readers too (colour is never the only cue). */
export function metricNode(tag, metric, value, thresholds) {
  const level = metricLevel(metric, value, thresholds);
  const node = el(tag, { class: level ? `metric metric-${level}` : 'metric' });
  const mark = LEVEL_MARKS[level];
  if (mark) node.append(icon(mark[0]), ' ');
  node.append(formatMetric(metric, value));
  if (mark) node.append(el('span', { class: 'visually-hidden', text: ` (${mark[1]})` }));
  return node;
}

/** `then` once the next frame has been painted (so that frame shows what is already in the
 *  page, and no more), or after 100 ms where no frame comes (a hidden tab). */
export function afterNextFrame(then) {
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    setTimeout(then, 0);
  };
  requestAnimationFrame(run);
  setTimeout(run, 100);
}
