// The gateway table: filter, sort and page 10,000 gateways in memory, render only one page.
// Rows come from the compact /api/gateways/rows; a gateway's WAN ports (circuits) load when it
// is expanded, or all at once when a search needs circuit fields (ISP, description, port IP).
// The server decides every flag: a row's `problem`, `ports_down`, `peers_down` and a port's
// `down` are shown as sent, never worked out here.

import {
  el,
  formatBits,
  formatBytes,
  formatDuration,
  formatNumber,
  formatSpeed,
  metricNode,
  text,
  thresholdsOf,
} from './format.js';
import { icon } from './icons.js';

let collator = null; // built on the first sort, not at load
const WAN_TYPES = { broadband: 'Broadband', dsl: 'DSL', lte: 'LTE' };
const ADDRESS_MODES = { static: 'Static', dhcp: 'DHCP', pppoe: 'PPPoE' };

export function isOnline(gateway) {
  return gateway.status === 'connected';
}

/** The compact rows document as objects (cheap: 10,000 rows in a few milliseconds). */
export function rowsToGateways(document) {
  const columns = (document && document.columns) || [];
  const sites = (document && document.sites) || [];
  return ((document && document.rows) || []).map((row) => {
    const gateway = {};
    for (let i = 0; i < columns.length; i += 1) gateway[columns[i]] = row[i];
    const site = sites[gateway.site];
    gateway.site_id = site ? site[0] : '';
    return gateway;
  });
}

function ratio(up, total) {
  return total ? (up ?? 0) / total : 2;
}

export class GatewayTable {
  constructor({ tbody, thead, countEl, pageInfo, prev, next, pageSize, onPeerPaths, onTraffic, fetchDetail, onSearch }) {
    Object.assign(this, { tbody, thead, countEl, pageInfo, prev, next, onPeerPaths, onTraffic, fetchDetail, onSearch });
    this.details = new Map();
    this.pending = new Set();
    this.pageSizeSelect = pageSize;
    this.gateways = [];
    this.siteNames = new Map();
    this.thresholds = {};
    this.filter = { search: '', site: '', problemsOnly: false };
    this.sort = { key: null, dir: 1 };
    this.page = 0;
    this.pageSize = Number(pageSize.value) || 50;
    this.expanded = new Set();
    this.haystacks = null;
    this.view = null;
    this.loaded = false;
    prev.addEventListener('click', () => this.goTo(this.page - 1));
    next.addEventListener('click', () => this.goTo(this.page + 1));
    pageSize.addEventListener('change', () => {
      this.pageSize = Number(pageSize.value) || 50;
      this.page = 0;
      this.render();
    });
    for (const th of thead.querySelectorAll('th[data-sort]')) {
      th.querySelector('button').addEventListener('click', () => this.sortBy(th.dataset.sort));
    }
  }

  /** New rows; `details` (id → full gateway) replaces what we knew of expanded gateways. */
  setData(document, siteNames, details = new Map()) {
    this.gateways = rowsToGateways(document);
    this.siteNames = siteNames;
    this.thresholds = thresholdsOf(document);
    this.details = details;
    this.haystacks = null;
    this.view = null;
    this.loaded = true;
    this.render();
  }

  /** Every gateway's WAN ports (the full payload): searching circuit fields now works. */
  setDetails(details) {
    this.details = details;
    this.haystacks = null;
    this.view = null;
    if (this.loaded) this.render();
  }

  setFilter(changes) {
    Object.assign(this.filter, changes);
    if (this.filter.search.trim()) this.onSearch();
    this.view = null;
    this.page = 0;
    this.render();
  }

  sortBy(key) {
    this.sort = this.sort.key === key ? { key, dir: -this.sort.dir } : { key, dir: 1 };
    this.view = null;
    this.page = 0;
    this.render();
  }

  goTo(page) {
    this.page = page;
    this.render();
  }

  siteName(gateway) {
    return this.siteNames.get(gateway.site_id) || '';
  }

  /** Search text per gateway, built on the first search only (nothing heavy at load). */
  haystack(gateway) {
    if (!this.haystacks) this.haystacks = new Map();
    let hay = this.haystacks.get(gateway);
    if (hay === undefined) {
      const parts = [gateway.name, this.siteName(gateway), gateway.model, gateway.ip, gateway.mac];
      const detail = this.details.get(gateway.id);
      if (detail) parts.push(detail.ip, detail.ext_ip);
      for (const port of (detail && detail.ports) || []) {
        parts.push(port.port_id, port.wan_name, port.description, port.isp, port.asn, port.ip, port.gateway_ip);
      }
      hay = parts.filter(Boolean).join('\n').toLowerCase();
      this.haystacks.set(gateway, hay);
    }
    return hay;
  }

  /** The gateways that pass the filters, in the chosen order (cached until something changes). */
  filtered() {
    if (this.view) return this.view;
    const terms = this.filter.search.toLowerCase().split(/\s+/).filter(Boolean);
    const { site, problemsOnly } = this.filter;
    let rows = this.gateways;
    if (terms.length || site || problemsOnly) {
      rows = rows.filter((gateway) => {
        if (site && gateway.site_id !== site) return false;
        if (problemsOnly && !gateway.problem) return false;
        if (terms.length) {
          const hay = this.haystack(gateway);
          return terms.every((term) => hay.includes(term));
        }
        return true;
      });
    }
    if (this.sort.key) rows = this.sorted(rows === this.gateways ? rows.slice() : rows);
    this.view = rows;
    return rows;
  }

  sorted(rows) {
    const { key, dir } = this.sort;
    collator ||= new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
    const compareText = (pick) => (a, b) => dir * collator.compare(pick(a) || '', pick(b) || '');
    const compareNumber = (pick) => (a, b) => dir * ((pick(a) ?? -1) - (pick(b) ?? -1));
    const comparators = {
      site: compareText((g) => this.siteName(g)),
      name: compareText((g) => g.name),
      model: compareText((g) => g.model),
      status: compareNumber((g) => (isOnline(g) ? 1 : 0)),
      ip: compareText((g) => g.ip),
      ports: compareNumber((g) => ratio(g.ports_up, g.ports_total)),
      peers: compareNumber((g) => ratio(g.peers_up, g.peers_total)),
      uptime: compareNumber((g) => (isOnline(g) ? g.uptime : -1)),
    };
    return rows.sort(comparators[key]);
  }

  render() {
    this.renderSortHeaders();
    if (!this.loaded) return;
    const rows = this.filtered();
    const pages = Math.max(1, Math.ceil(rows.length / this.pageSize));
    this.page = Math.min(Math.max(0, this.page), pages - 1);
    const start = this.page * this.pageSize;
    const slice = rows.slice(start, start + this.pageSize);
    const fragment = document.createDocumentFragment();
    for (const gateway of slice) {
      fragment.append(this.gatewayRow(gateway));
      if (this.expanded.has(gateway.id)) fragment.append(this.portsRow(gateway));
    }
    if (!slice.length) {
      const message = this.gateways.length ? 'No gateway matches these filters.' : 'This org has no gateways.';
      fragment.append(el('tr', { class: 'placeholder-row' }, el('td', { colspan: 9, text: message })));
    }
    this.tbody.replaceChildren(fragment);
    const total = this.gateways.length;
    const ports = rows.reduce((sum, gateway) => sum + (gateway.ports_total || 0), 0);
    this.countEl.textContent =
      rows.length === total
        ? `${formatNumber(total)} gateways, ${formatNumber(ports)} WAN ports`
        : `${formatNumber(rows.length)} of ${formatNumber(total)} gateways, ${formatNumber(ports)} WAN ports`;
    this.pageInfo.textContent = rows.length
      ? `${formatNumber(start + 1)}–${formatNumber(start + slice.length)} of ${formatNumber(rows.length)}`
      : '0 of 0';
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page >= pages - 1;
  }

  renderSortHeaders() {
    for (const th of this.thead.querySelectorAll('th[data-sort]')) {
      const active = this.sort.key === th.dataset.sort;
      if (active) th.setAttribute('aria-sort', this.sort.dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
      const button = th.querySelector('button');
      button.querySelector('.bi')?.remove();
      button.append(icon(active ? (this.sort.dir > 0 ? 'arrow-up' : 'arrow-down') : 'arrow-down-up'));
    }
  }

  toggle(gateway) {
    if (this.expanded.has(gateway.id)) this.expanded.delete(gateway.id);
    else this.expanded.add(gateway.id);
    this.render();
    const button = this.tbody.querySelector(`button[data-gateway="${CSS.escape(gateway.id)}"]`);
    if (button) button.focus();
  }

  gatewayRow(gateway) {
    const online = isOnline(gateway);
    const open = this.expanded.has(gateway.id);
    const name = text(gateway.name, gateway.mac || gateway.id);
    const toggle = el('button', {
      type: 'button',
      class: 'btn btn-touch expand-button',
      'aria-expanded': open ? 'true' : 'false',
      'aria-label': `${open ? 'Hide' : 'Show'} WAN ports of ${name}`,
      'data-gateway': gateway.id,
    }, icon(open ? 'chevron-down' : 'chevron-right'));
    const portsDown = (gateway.ports_down ?? 0) > 0;
    const peersDown = (gateway.peers_down ?? 0) > 0;
    const row = el(
      'tr',
      { class: `gateway-row${online ? '' : ' offline'}${gateway.degraded ? ' degraded' : ''}` },
      el('td', { class: 'col-expand' }, toggle),
      el('td', { class: 'col-site', text: text(this.siteName(gateway)) }),
      el('td', { class: 'col-name' }, el('span', { class: 'gateway-name', text: name }),
        gateway.ha ? el('span', { class: 'badge text-bg-secondary ms-2', text: 'HA' }) : null,
        gateway.degraded ? el('span', { class: 'badge badge-degraded ms-2', text: 'degraded' }) : null),
      el('td', { class: 'col-model', text: text(gateway.model) }),
      el('td', { class: 'col-status' }, el('span', {
        class: `status-badge ${online ? 'status-up' : 'status-down'}`,
        text: online ? 'online' : 'offline',
      })),
      el('td', { class: 'col-ip', text: text(gateway.ip) }),
      el('td', { class: `col-ports${portsDown ? ' count-bad' : ''}`, text: `${gateway.ports_up ?? 0}/${gateway.ports_total ?? 0}` }),
      el('td', { class: `col-peers${peersDown ? ' count-bad' : ''}`, text: `${gateway.peers_up ?? 0}/${gateway.peers_total ?? 0}` }),
      el('td', { class: 'col-uptime', text: online ? formatDuration(gateway.uptime) : '—' }),
    );
    row.addEventListener('click', (event) => {
      if (event.target.closest('a, input, select')) return;
      this.toggle(gateway);
    });
    return row;
  }

  /** Fetch one gateway's WAN ports, then show them (at most one request per gateway). */
  loadDetail(gateway) {
    if (this.pending.has(gateway.id)) return;
    this.pending.add(gateway.id);
    this.fetchDetail(gateway.id)
      .then((detail) => this.details.set(gateway.id, detail))
      .catch((error) => this.details.set(gateway.id, { error: error.message }))
      .finally(() => {
        this.pending.delete(gateway.id);
        if (this.expanded.has(gateway.id)) this.render();
      });
  }

  portsRow(gateway) {
    const detail = this.details.get(gateway.id);
    const grid = el('div', { class: 'port-grid' });
    const row = el('tr', { class: 'ports-row' }, el('td', { colspan: 9 }, grid));
    if (!detail || detail.error) {
      if (!detail) this.loadDetail(gateway);
      grid.append(el('p', { class: 'mb-0 text-body-secondary', text: detail ? `Could not load WAN ports: ${detail.error}` : 'Loading WAN ports…' }));
      return row;
    }
    const ports = detail.ports || [];
    if (!ports.length) grid.append(el('p', { class: 'mb-0 text-body-secondary', text: 'No WAN port reported for this gateway.' }));
    for (const port of ports) grid.append(this.portCard(gateway, port));
    return row;
  }

  portCard(gateway, port) {
    const down = port.down === true;
    const disabled = port.enabled === false;
    const state = disabled ? 'disabled' : port.up ? 'up' : 'down';
    const fact = (label, ...value) => [el('dt', { text: label }), el('dd', {}, ...value)];
    const address = [ADDRESS_MODES[port.address_mode] || text(port.address_mode)];
    if (port.override === true) address.push(' · device override');
    else if (port.override === false) address.push(' · from template');
    const peers = el('span', { text: `${port.peers_up ?? 0}/${port.peers_total ?? 0} up` });
    const metrics = el('span', { class: 'port-metrics' },
      metricNode('span', 'latency', port.latency, this.thresholds), ' ',
      metricNode('span', 'jitter', port.jitter, this.thresholds), ' ',
      metricNode('span', 'loss', port.loss, this.thresholds), ' ',
      el('span', { class: 'metric-label', text: 'MOS ' }), metricNode('span', 'mos', port.mos, this.thresholds));
    const noPaths = !port.peers_total;
    const peerButton = el('button', { type: 'button', class: 'btn btn-outline-light btn-touch', 'data-action': 'peer-paths', disabled: noPaths },
      icon('diagram-3'), el('span', { text: noPaths ? ' No peer paths' : ' Peer paths' }));
    const trafficButton = el('button', { type: 'button', class: 'btn btn-outline-light btn-touch', 'data-action': 'traffic' },
      icon('graph-up'), el('span', { text: ' Traffic' }));
    peerButton.addEventListener('click', (event) => {
      event.stopPropagation();
      this.onPeerPaths(gateway, port, peerButton);
    });
    trafficButton.addEventListener('click', (event) => {
      event.stopPropagation();
      this.onTraffic(gateway, port, trafficButton);
    });
    const card = el('article', { class: `port-card port-${state}${port.degraded ? ' degraded' : ''}`, 'data-port': port.port_id, 'data-gateway': gateway.id },
      el('header', { class: 'port-header' },
        el('span', { class: 'port-id', text: text(port.port_id) }),
        port.wan_name ? el('span', { class: 'wan-name', text: port.wan_name }) : null,
        el('span', { class: `status-badge ${down ? 'status-down' : port.up ? 'status-up' : 'status-off'}`, text: state }),
        el('span', { class: 'badge text-bg-dark border', text: WAN_TYPES[port.wan_type] || text(port.wan_type, 'type ?') }),
        port.degraded ? el('span', { class: 'badge badge-degraded', text: 'degraded' }) : null),
      el('dl', { class: 'port-facts' },
        ...fact('Description', text(port.description)),
        ...fact('ISP', text(port.isp), port.asn ? el('span', { class: 'text-body-secondary', text: ` ${port.asn}` }) : null),
        ...fact('Speed', formatSpeed(port.speed)),
        ...fact('WAN IP', text(port.ip)),
        ...fact('Gateway IP', text(port.gateway_ip)),
        ...fact('VLAN', port.vlan ? String(port.vlan) : 'untagged'),
        ...fact('Address', ...address),
        ...fact('Enabled', disabled ? 'no' : 'yes'),
        ...fact('Peer paths', peers),
        ...fact('Quality', metrics),
        ...fact('Now', `↓ ${formatBits(port.rx_bps)}  ↑ ${formatBits(port.tx_bps)}`),
        ...fact('Last 24 h', `↓ ${formatBytes(port.rx_bytes_24h)}  ↑ ${formatBytes(port.tx_bytes_24h)}`)),
      el('footer', { class: 'port-actions' }, peerButton, trafficButton));
    return card;
  }
}
