// The events timeline: the org's circuit events (/api/events), newest first, filtered by
// type and severity, and reloaded as refreshes land while it is shown.

import { getJSON } from './api.js';
import { el, formatDateTime, text } from './format.js';

const LIMIT = 200;
/** Every event type (model/events.py EVENT_TYPES), in the filter's order. */
export const EVENT_TYPES = [
  'gateway_offline', 'gateway_online', 'gateway_wan_down', 'gateway_wan_up',
  'port_down', 'port_up', 'port_disabled', 'port_enabled', 'path_down', 'path_up',
  'circuit_degraded', 'circuit_recovered', 'refresh_failing', 'refresh_recovered',
  'tokens_exhausted', 'tokens_recovered', 'data_stale', 'data_fresh',
];
const SEVERITY_CLASSES = { critical: 'sla-bad', warning: 'sla-warn', info: 'sla-info' };

function label(kind) {
  return String(kind || '').replaceAll('_', ' ');
}

function where(event) {
  const parts = [event.site_name, event.gateway_name || event.gateway_id, event.port_id];
  if (event.peer_name || event.peer_port_id) parts.push(`→ ${[event.peer_name, event.peer_port_id].filter(Boolean).join(' ')}`);
  return parts.filter(Boolean).join(' · ') || 'worker';
}

/** One event's list item (every value as text). */
export function eventItem(event) {
  return el('li', { class: `timeline-event severity-${event.severity}`, 'data-type': event.type, 'data-time': String(event.time) },
    el('time', { class: 'timeline-time', datetime: new Date(event.time * 1000).toISOString(), text: formatDateTime(event.time) }),
    el('span', { class: `timeline-severity badge ${SEVERITY_CLASSES[event.severity] || ''}`, text: text(event.severity) }),
    el('span', { class: 'timeline-type', text: label(event.type) }),
    el('span', { class: 'timeline-where', text: where(event) }),
    event.source === 'mist' ? el('span', { class: 'timeline-source badge text-bg-dark border', text: 'Mist' }) : null);
}

/** The timeline: its filters ask the server (type, severity) and the list is redrawn. */
export class Timeline {
  constructor(root) {
    this.root = root;
    this.list = root.querySelector('#timeline-list');
    this.status = root.querySelector('#timeline-status');
    this.type = root.querySelector('#timeline-type');
    this.severity = root.querySelector('#timeline-severity');
    this.generation = 0;
    for (const kind of EVENT_TYPES) this.type.append(el('option', { value: kind, text: label(kind) }));
    for (const select of [this.type, this.severity]) select.addEventListener('change', () => this.load());
  }

  url() {
    const query = new URLSearchParams({ limit: String(LIMIT) });
    if (this.type.value) query.set('type', this.type.value);
    if (this.severity.value) query.set('severity', this.severity.value);
    return `/api/events?${query}`;
  }

  async load() {
    const generation = ++this.generation;
    try {
      const answer = await getJSON(this.url());
      if (generation !== this.generation) return; // a newer filter answered first
      this.render(answer.data.events || []);
    } catch (error) {
      if (generation !== this.generation) return;
      this.status.textContent = `Events not available: ${error.message}`;
      this.status.hidden = false;
    }
  }

  render(events) {
    const sorted = [...events].sort((a, b) => b.time - a.time);
    this.list.replaceChildren(...sorted.map(eventItem));
    this.status.hidden = sorted.length > 0;
    if (!sorted.length) this.status.textContent = 'No event matches these filters.';
  }
}
