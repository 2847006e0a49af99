// The peer-path dialog of one WAN port: every overlay path to the hubs with its quality.

import { getPeerPaths } from './api.js';
import { el, formatDuration, formatMetric, metricNode, text } from './format.js';
import { setUpDialog } from './dialogs.js';

const METRICS = ['latency', 'jitter', 'loss', 'mos'];
const LEGEND = [['latency', 'latency', ' ms'], ['jitter', 'jitter', ' ms'], ['loss', 'loss', ' %'], ['mos', 'MOS', '']];

function average(paths, metric) {
  const values = paths.map((path) => path[metric]).filter((value) => typeof value === 'number');
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
}

/** "Colours: latency 50/100/150 ms, …" from the server's thresholds (those it sent). */
function legend(thresholds) {
  const parts = LEGEND.filter(([metric]) => Array.isArray(thresholds[metric]))
    .map(([metric, label, unit]) => `${label} ${thresholds[metric].join('/')}${unit}`);
  return parts.length ? `Colours: ${parts.join(', ')}.` : '';
}

/** "VPN Corp_VPN · 2 hops" under the peer's name, when Mist says them (not in every answer). */
function via(path) {
  const parts = [];
  if (path.vpn_name) parts.push(`VPN ${path.vpn_name}`);
  if (typeof path.hop_count === 'number') parts.push(`${path.hop_count} hop${path.hop_count === 1 ? '' : 's'}`);
  return parts.length ? el('span', { class: 'path-via', text: parts.join(' · ') }) : null;
}

export class PeerPathDialog {
  constructor(dialog) {
    this.dialog = dialog;
    this.controls = setUpDialog(dialog, () => { this.request = null; });
    this.title = dialog.querySelector('#peer-title');
    this.subtitle = dialog.querySelector('#peer-subtitle');
    this.rows = dialog.querySelector('#peer-rows');
    this.averages = dialog.querySelector('#peer-averages');
    this.legend = dialog.querySelector('#peer-legend');
    this.tiles = dialog.querySelector('#peer-tiles');
    this.request = null;
  }

  async open(gateway, port, thresholds, opener) {
    this.title.textContent = `Peer paths: ${text(gateway.name)} · ${text(port.port_id)}${port.wan_name ? ` (${port.wan_name})` : ''}`;
    this.subtitle.textContent = 'Loading…';
    this.rows.replaceChildren();
    this.averages.replaceChildren();
    this.tiles.replaceChildren();
    this.legend.textContent = legend(thresholds);
    this.controls.open(opener);
    const request = getPeerPaths(gateway.id);
    this.request = request;
    let paths;
    try {
      const response = await request;
      paths = (response.data || []).filter((path) => path.port_id === port.port_id);
    } catch (error) {
      if (this.request !== request) return;
      this.subtitle.textContent =
        error.status === 404 ? 'No peer paths are known for this gateway.' : `Could not load peer paths: ${error.message}`;
      return;
    }
    if (this.request !== request) return;
    this.render(paths, thresholds);
  }

  render(paths, thresholds) {
    const up = paths.filter((path) => path.up);
    const active = paths.filter((path) => path.is_active === true);
    this.subtitle.textContent = paths.length
      ? `${up.length} of ${paths.length} peer paths up`
      : 'This WAN port has no peer paths.';
    // Total, up and active (Mist's is_active: the path carries traffic, not a standby).
    const tile = (name, value, label) => el('div', { class: 'peer-tile', 'data-tile': name },
      el('span', { class: 'peer-tile-value', text: String(value) }), el('span', { class: 'peer-tile-label', text: label }));
    this.tiles.replaceChildren(...(paths.length
      ? [tile('total', paths.length, 'total'), tile('up', up.length, 'up'), tile('active', active.length, 'active')]
      : []));
    const fragment = document.createDocumentFragment();
    for (const path of paths) {
      fragment.append(el('tr', { class: path.up ? 'path-up' : 'path-down' },
        el('td', {}, text(path.peer_router_name), via(path)),
        el('td', { text: text(path.peer_port_id) }),
        el('td', { text: text(path.type) }),
        el('td', {}, el('span', { class: `status-badge ${path.up ? 'status-up' : 'status-down'}`, text: path.up ? 'up' : 'down' })),
        el('td', { text: path.is_active ? 'active' : path.is_active === false ? 'standby' : '—' }),
        ...METRICS.map((metric) => metricNode('td', metric, path.up ? path[metric] : null, thresholds)),
        el('td', { text: text(path.mtu) }),
        el('td', { text: path.up ? formatDuration(path.uptime) : '—' })));
    }
    this.rows.replaceChildren(fragment);
    if (up.length) {
      this.averages.replaceChildren(el('tr', { class: 'averages' },
        el('th', { scope: 'row', colspan: 5, text: `Average of ${up.length} up path${up.length === 1 ? '' : 's'}` }),
        ...METRICS.map((metric) => {
          const value = average(up, metric);
          const cell = metricNode('td', metric, value, thresholds);
          cell.title = formatMetric(metric, value);
          return cell;
        }),
        el('td', {}), el('td', {})));
    }
  }
}
