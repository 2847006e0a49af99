// The summary cards: gateways, WAN circuits, peer paths, degraded circuits, data age.

import { formatAge, formatDateTime, formatNumber } from './format.js';

function set(id, value) {
  const node = document.getElementById(id);
  if (node) node.textContent = formatNumber(value);
}

export function renderSummary(summary) {
  const s = summary || {};
  document.getElementById('summary').hidden = false;
  set('sum-gateways-online', s.gateways_online);
  set('sum-gateways-offline', s.gateways_offline);
  set('sum-circuits-up', s.circuits_up);
  // The ports of offline gateways are counted apart: their gateway being offline says it all.
  set('sum-circuits-down', s.circuits_down_online ?? s.circuits_down);
  const offline = document.getElementById('sum-circuits-offline');
  if (offline) {
    offline.textContent = s.circuits_down_offline
      ? `+ ${formatNumber(s.circuits_down_offline)} on offline gateways` : 'none on offline gateways';
  }
  set('sum-peers-up', s.peer_paths_up);
  set('sum-peers-down', s.peer_paths_down);
  set('sum-degraded', s.circuits_degraded);
  // Every cause the server counts as degraded, in its words (MOS included).
  const causes = Array.isArray(s.degraded_causes) ? s.degraded_causes : [];
  const why = document.getElementById('sum-degraded-causes');
  if (why && causes.length) {
    why.textContent = causes.length > 1
      ? `${causes.slice(0, -1).join(', ')} or ${causes[causes.length - 1]}`
      : causes[0];
  }
}

export function renderAge(ageSeconds, lastUpdate, stale) {
  // The MSP overview has the app bar's pill only (the server leaves the dashboard out).
  const age = document.getElementById('sum-age');
  if (age) {
    age.textContent = lastUpdate ? formatAge(ageSeconds) : 'no data yet';
    age.classList.toggle('warn', Boolean(stale));
  }
  // The app bar's pill: the age stays in sight however far the table is scrolled.
  const pill = document.getElementById('age-pill');
  pill.textContent = !lastUpdate ? 'no data yet' : stale ? `stale · ${formatAge(ageSeconds)}` : `data ${formatAge(ageSeconds)}`;
  pill.classList.toggle('stale', Boolean(stale) || !lastUpdate);
  const updated = document.getElementById('sum-updated');
  if (updated) updated.textContent = lastUpdate ? `updated ${formatDateTime(lastUpdate)}` : 'waiting for the first refresh';
}
