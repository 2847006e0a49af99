// Freshness: poll /api/status, show the data age, the worker's phase and progress, and the
// stale / rate-limit / error banners. Stale is what /api/status says (the server's rule).
// Tells main.js when a new refresh has been published.

import { getStatus } from './api.js';
import { el, formatAge, formatDateTime, formatDuration, text } from './format.js';
import { renderAge } from './summary.js';

const PHASES = {
  fetch: 'Asking Mist', org: 'organisation', sites: 'sites', gateways: 'gateways',
  ports: 'WAN ports', peer_paths: 'peer paths', templates: 'templates', profiles: 'device profiles',
  inventory: 'inventory', device_configs: 'Gateway configs', build: 'Building circuits',
  history: 'Traffic history', publish: 'Publishing', backfill: 'Traffic backfill',
};

/** worker.py phases look like `fetch:ports`: "Asking Mist: WAN ports". */
function phaseLabel(phase) {
  if (!phase) return 'Refreshing';
  const [head, tail] = String(phase).split(':');
  const first = PHASES[head] || head;
  return tail ? `${first}: ${PHASES[tail] || tail}` : first;
}

function show(id, message) {
  const banner = document.getElementById(id);
  banner.hidden = !message;
  if (message) banner.querySelector('span').textContent = message;
}

export class Freshness {
  constructor({ pollMs, onStatus }) {
    this.pollMs = pollMs;
    this.onStatus = onStatus;
    this.status = null;
    this.receivedAt = 0;
    this.failures = 0;
    this.timer = null;
  }

  start() {
    this.poll();
    setInterval(() => this.renderAge(), 1000);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.poll();
    });
  }

  async poll() {
    clearTimeout(this.timer);
    try {
      const { data } = await getStatus();
      this.status = data;
      this.receivedAt = performance.now();
      this.failures = 0;
      show('error-banner', null);
      this.render();
      this.onStatus(data);
    } catch (error) {
      this.failures += 1;
      if (this.failures >= 2 || error.status === 503) {
        show('error-banner', `Cannot read the latest status (${error.message}); retrying. The figures shown may be out of date.`);
      }
    }
    const delay = this.status && this.status.status === 'running' ? Math.min(this.pollMs, 3000) : this.pollMs;
    this.timer = setTimeout(() => this.poll(), delay);
  }

  /** Age now, from the server's age plus the time since we asked (no client clock skew). */
  age() {
    if (!this.status || this.status.age === null || this.status.age === undefined) return null;
    return this.status.age + (performance.now() - this.receivedAt) / 1000;
  }

  /** Exactly what the last /api/status said: the server owns the rule (web/freshness.py). */
  stale() {
    return Boolean(this.status && this.status.stale === true);
  }

  renderAge() {
    if (!this.status) return;
    const lastUpdate = this.status.last_update;
    const age = this.age();
    renderAge(age, lastUpdate, this.stale());
    if (!lastUpdate) {
      show('stale-banner', 'No data yet: waiting for the worker to finish its first refresh.');
    } else if (this.stale()) {
      const kept = this.status.source === 'last_good'
        ? 'Showing the last known data: the live snapshot has expired. ' : '';
      show('stale-banner',
        `${kept}Data is stale: last updated ${formatDateTime(lastUpdate)} (${formatAge(age)}). ` +
        `The worker should refresh every ${formatDuration(this.status.interval)}.`);
    } else {
      show('stale-banner', null);
    }
  }

  render() {
    const status = this.status;
    this.renderAge();
    // The server says when the worker's heartbeat is gone: its last word ("idle",
    // "running") is then no longer true, and the page says so instead.
    const silent = status.worker_responding === false;
    document.getElementById('worker-pill').hidden = !silent;
    const phase = document.getElementById('worker-phase');
    const running = status.status === 'running' && !silent;
    phase.hidden = !running;
    if (running) {
      const progress = status.progress || {};
      const label = phaseLabel(status.phase);
      const counts = progress.total ? ` (step ${progress.done ?? 0}/${progress.total})` : '';
      document.getElementById('worker-phase-text').textContent = `Refreshing: ${label}${counts}`;
      const bar = document.getElementById('worker-progress');
      bar.max = progress.total || 1;
      bar.value = progress.total ? progress.done ?? 0 : 0;
    }
    const tokens = status.tokens || [];
    const exhausted = tokens.length > 0 && tokens.every((token) => token.exhausted);
    show('ratelimit-banner', status.rate_limited || exhausted
      ? 'Mist API rate limit reached: every API token has used its hourly budget. ' +
        'The dashboard shows the last good data and resumes when the budget resets.'
      : null);
    const errorText = status.status === 'error' && status.last_error
      ? `The last refresh failed${status.last_error_at ? ` at ${formatDateTime(status.last_error_at)}` : ''}: ${status.last_error}`
      : null;
    if (errorText) show('error-banner', errorText);
    this.renderFacts(status, tokens);
  }

  renderFacts(status, tokens) {
    const facts = [
      ['Worker', status.worker_responding === false ? 'not responding (no heartbeat)' : text(status.status)],
      ['Last update', formatDateTime(status.last_update)],
      ['Last attempt', formatDateTime(status.last_attempt)],
      ['Refresh interval', formatDuration(status.interval)],
      ['API calls, last refresh', text(status.calls_last_refresh)],
      ['Refresh took', status.refresh_seconds ? `${status.refresh_seconds} s` : '—'],
      ...tokens.map((token) => [
        text(token.label, 'token'),
        `${text(token.calls_this_hour, 0)} of ${text(token.limit, '?')} calls this hour${token.rejected ? ' (rejected by Mist)' : token.exhausted ? ' (exhausted)' : ''}`,
      ]),
    ];
    const nodes = [];
    for (const [label, value] of facts) nodes.push(el('dt', { text: label }), el('dd', { text: value }));
    document.getElementById('worker-facts').replaceChildren(...nodes);
  }
}
