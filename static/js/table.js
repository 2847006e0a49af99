// The gateway table: filter, sort and page 10,000 gateways in memory, render only one page.
// Rows come from the compact /api/gateways/rows; a gateway's WAN ports (circuits) load when it
// is expanded, or all at once when a search needs circuit fields (ISP, description, port IP).
// The server decides every flag: a row's `problem`, `ports_down`, `peers_down` and a port's
// `down` are shown as sent, never worked out here.

import {
  afterNextFrame,
  el,
  formatBits,
  formatDuration,
  formatMetric,
  formatNumber,
  formatSpeed,
  metricNode,
  text,
  thresholdsOf,
} from './format.js';
import { icon } from './icons.js';
import { sleNode } from './sle.js';
import { rowCounts, rowsToGateways } from './rows.js';
import { countNode, secondsSince, sinceNode, volumeNodes } from './cells.js';

let collator = null; // built on the first sort, not at load
const WAN_TYPES = { broadband: 'Broadband', dsl: 'DSL', lte: 'LTE' };
const ADDRESS_MODES = { static: 'Static', dhcp: 'DHCP', pppoe: 'PPPoE' };

export function isOnline(gateway) {
  return gateway.status === 'connected';
}

const ratio = (up, total) => (total ? (up ?? 0) / total : 2);

/** The summary cards' filters: which rows each keeps, by the server's fields. */
export const CARD_FILTERS = {
  offline: { label: 'Offline gateways', keep: (g) => !isOnline(g) },
  // Like the card's count: the ports of offline gateways are the offline card's.
  ports: { label: 'WAN circuits down on online gateways', keep: (g) => isOnline(g) && (g.ports_down ?? 0) > 0 },
  peers: { label: 'Peer paths down', keep: (g) => (g.peers_down ?? 0) > 0 },
  degraded: { label: 'Degraded', keep: (g) => Boolean(g.degraded) },
};

const COLUMNS = 11;
export const DEFAULT_SORT = { key: 'severity', dir: -1 };

const METRIC_LABELS = [['latency', 'Latency'], ['jitter', 'Jitter'], ['loss', 'Loss'], ['mos', 'MOS']];

export class GatewayTable {
  constructor({ tbody, thead, countEl, pageInfo, prev, next, pageSize, onPeerPaths, onTraffic, fetchDetail, onSearch }) {
    Object.assign(this, { tbody, thead, countEl, pageInfo, prev, next, onPeerPaths, onTraffic, fetchDetail, onSearch });
    this.details = new Map();
    this.pending = new Set();
    this.pageSizeSelect = pageSize;
    this.gateways = [];
    this.siteNames = new Map();
    this.siteSle = new Map(); // site id → its WAN SLEs (rows document, DATA.md §3.2)
    this.thresholds = {};
    this.filter = { search: '', site: '', problemsOnly: false, card: '' };
    this.sort = { ...DEFAULT_SORT };
    this.onChange = () => {};
    this.page = 0;
    this.pageSize = Number(pageSize.value) || 50;
    this.expanded = new Set();
    this.haystacks = null;
    this.view = null;
    this.loaded = false;
    this.drawing = 0; // counts the renders (render)
    prev.addEventListener('click', () => this.goTo(this.page - 1));
    next.addEventListener('click', () => this.goTo(this.page + 1));
    pageSize.addEventListener('change', () => {
      this.pageSize = Number(pageSize.value) || 50;
      this.page = 0;
      this.render();
      this.onChange();
    });
    for (const th of thead.querySelectorAll('th[data-sort]')) {
      th.querySelector('button').addEventListener('click', () => this.sortBy(th.dataset.sort));
    }
    // The breakpoints hide columns: the expanded rows' span follows them.
    for (const query of ['(max-width: 1300px)', '(max-width: 900px)', '(max-width: 700px)']) {
      window.matchMedia(query).addEventListener('change', () => { if (this.loaded) this.render(); });
    }
  }

  /** New rows; `details` (id → full gateway) replaces what we knew of expanded gateways;
   *  `firstScreen` as render's. Resolves once every row of the page is drawn. */
  setData(document, siteNames, details = new Map(), firstScreen = 0) {
    this.gateways = rowsToGateways(document);
    this.whole = Number.isInteger(document && document.rows_total) ? document : null; // rowCounts
    this.siteNames = siteNames;
    this.thresholds = thresholdsOf(document);
    this.details = details;
    this.haystacks = null;
    this.view = null;
    this.loaded = true;
    return this.render({ firstScreen });
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
    this.onChange();
  }

  /** Severity, since and worst start worst first; the others A→Z / smallest first. */
  sortBy(key) {
    const first = ['severity', 'since', 'worst'].includes(key) ? -1 : 1;
    this.sort = this.sort.key === key ? { key, dir: -this.sort.dir } : { key, dir: first };
    this.view = null;
    this.page = 0;
    this.render();
    this.onChange();
  }

  /** Another page starts at the top of the table (under the sticky app bar). */
  goTo(page) {
    this.page = page;
    this.render();
    this.onChange();
    this.tbody.closest('.table-wrap')?.scrollIntoView({ block: 'start' });
  }

  /** The view a URL names (filters, sort, page, expanded gateway), before the data comes. */
  restore({ filter, sort, page, pageSize, expanded }) {
    Object.assign(this.filter, filter);
    if (sort && sort.key) this.sort = sort;
    if (pageSize) {
      this.pageSize = pageSize;
      this.pageSizeSelect.value = String(pageSize);
    }
    this.page = page || 0;
    for (const id of expanded || []) this.expanded.add(id);
    this.view = null;
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
    const card = CARD_FILTERS[this.filter.card];
    let rows = this.gateways;
    if (terms.length || site || problemsOnly || card) {
      rows = rows.filter((gateway) => {
        if (site && gateway.site_id !== site) return false;
        if (problemsOnly && !gateway.problem) return false;
        if (card && !card.keep(gateway)) return false;
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
    // A collator is built for a text sort only: the first (by severity) needs none, and the
    // first one a page builds costs 30-150 ms at 4x CPU (ICU's collation data).
    const compareText = (pick) => (a, b) => {
      collator ||= new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
      return dir * collator.compare(pick(a) || '', pick(b) || '');
    };
    const compareNumber = (pick) => (a, b) => dir * ((pick(a) ?? -1) - (pick(b) ?? -1));
    const bySeverity = (a, b) => (b.severity ?? 0) - (a.severity ?? 0);
    const comparators = {
      severity: compareNumber((g) => g.severity),
      since: compareNumber((g) => secondsSince(g.since)),
      worst: compareNumber((g) => g.worst),
      site: compareText((g) => this.siteName(g)),
      name: compareText((g) => g.name),
      model: compareText((g) => g.model),
      status: compareNumber((g) => (isOnline(g) ? 1 : 0)),
      ip: compareText((g) => g.ip),
      ports: compareNumber((g) => ratio(g.ports_up, g.ports_total)),
      peers: compareNumber((g) => ratio(g.peers_up, g.peers_total)),
      uptime: compareNumber((g) => (isOnline(g) ? g.uptime : -1)),
    };
    const compare = comparators[key] || bySeverity;
    return rows.sort((a, b) => compare(a, b) || bySeverity(a, b));
  }

  /** The gateways' rows (and the port cards of the expanded ones). */
  rowsOf(gateways) {
    const fragment = document.createDocumentFragment();
    for (const gateway of gateways) {
      fragment.append(this.gatewayRow(gateway));
      if (this.expanded.has(gateway.id)) fragment.append(this.portsRow(gateway));
    }
    return fragment;
  }

  /** Draw the page. With `firstScreen`, only that many rows before the next frame, the rest
   *  after it (the page's first load: the screen shows sooner); resolves once all are drawn. */
  render({ firstScreen = 0 } = {}) {
    this.renderSortHeaders();
    this.drawing += 1; // a later render drops what this one left to draw
    if (!this.loaded) return Promise.resolve();
    const rows = this.filtered();
    const pages = Math.max(1, Math.ceil(rows.length / this.pageSize));
    this.page = Math.min(Math.max(0, this.page), pages - 1);
    const start = this.page * this.pageSize;
    const slice = rows.slice(start, start + this.pageSize);
    const now = firstScreen > 0 ? slice.slice(0, firstScreen) : slice;
    const fragment = this.rowsOf(now);
    if (!slice.length) {
      const message = this.gateways.length ? 'No gateway matches these filters.' : 'This org has no gateways.';
      fragment.append(el('tr', { class: 'placeholder-row' }, el('td', { colspan: this.shownColumns(), text: message })));
    }
    this.tbody.replaceChildren(fragment);
    const { total, shown, ports } = rowCounts(rows, this.gateways, this.whole);
    const onThem = `${formatNumber(ports)} WAN ports in all on them`;
    this.countEl.textContent =
      shown === total
        ? `${formatNumber(total)} gateways, ${onThem}`
        : `${formatNumber(shown)} of ${formatNumber(total)} gateways, ${onThem}`;
    this.pageInfo.textContent = shown
      ? `${formatNumber(start + 1)}–${formatNumber(start + slice.length)} of ${formatNumber(shown)}`
      : '0 of 0';
    this.prev.disabled = this.page === 0 || !shown;
    this.next.disabled = this.page >= Math.ceil(shown / this.pageSize) - 1 || !shown;
    if (now.length === slice.length) return Promise.resolve();
    const drawing = this.drawing;
    return new Promise((resolve) => afterNextFrame(() => {
      if (drawing === this.drawing) this.tbody.append(this.rowsOf(slice.slice(now.length)));
      resolve();
    }));
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

  /** Open one gateway where the table shows it (another view's row asked): expanded, on its
   *  page, filters that hide it cleared, scrolled to and focused. */
  reveal(id) {
    if (!this.gateways.some((g) => g.id === id)) return false;
    if (!this.filtered().some((g) => g.id === id)) {
      Object.assign(this.filter, { search: '', site: '', problemsOnly: false, card: '' });
      this.view = null;
    }
    this.page = Math.floor(this.filtered().findIndex((g) => g.id === id) / this.pageSize);
    this.expanded.add(id);
    this.render();
    this.onChange();
    const row = this.tbody.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
    if (row) {
      row.scrollIntoView({ block: 'center' });
      row.querySelector('.expand-button')?.focus({ preventScroll: true });
    }
    return true;
  }

  toggle(gateway) {
    if (this.expanded.has(gateway.id)) this.expanded.delete(gateway.id);
    else this.expanded.add(gateway.id);
    this.render();
    this.onChange();
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
    const site = this.siteName(gateway);
    const downFor = gateway.since ? sinceNode(gateway.since, '', gateway.site_id) : el('span', { class: 'text-body-secondary', text: '—' });
    const row = el(
      'tr',
      { class: `gateway-row${online ? '' : ' offline'}${gateway.degraded ? ' degraded' : ''}`, 'data-id': gateway.id },
      el('td', { class: 'col-expand' }, toggle),
      el('td', { class: 'col-name' },
        el('span', { class: 'name-line' },
          el('span', { class: 'gateway-name', title: name, text: name }),
          gateway.ha ? el('span', { class: 'badge text-bg-secondary', text: 'HA' }) : null),
        el('span', { class: 'site-line' },
          el('span', { class: 'gateway-site', title: text(site) }, text(site),
            gateway.ip ? el('span', { class: 'gateway-ip', text: ` · ${gateway.ip}` }) : null),
          sleNode(this.siteSle.get(gateway.site_id)))),
      el('td', { class: 'col-status' }, el('span', {
        class: `status-badge ${online ? 'status-up' : 'status-down'}`,
      }, online ? null : icon('x-circle-fill'), online ? 'online' : 'offline')),
      el('td', { class: 'col-problem' }, gateway.problem_text
        ? el('span', { class: `problem-text${gateway.severity >= 2000 ? ' problem-down' : ''}`, title: gateway.problem_text, text: gateway.problem_text })
        : el('span', { class: 'text-body-secondary', text: '—' })),
      el('td', { class: 'col-since' }, downFor),
      el('td', { class: 'col-worst', title: gateway.worst_text || '' }, gateway.worst_text
        ? el('span', { class: `worst-text${gateway.worst >= 1 ? ' metric-bad' : ''}` },
          gateway.worst >= 1 ? icon('exclamation-triangle-fill') : null, gateway.worst >= 1 ? ' ' : null, gateway.worst_text)
        : el('span', { class: 'text-body-secondary', text: '—' })),
      el('td', { class: 'col-ports' }, countNode(gateway.ports_up, gateway.ports_total, portsDown)),
      el('td', { class: 'col-peers' }, countNode(gateway.peers_up, gateway.peers_total, peersDown)),
      el('td', { class: 'col-model', text: text(gateway.model) }),
      el('td', { class: 'col-ip', text: text(gateway.ip) }),
      el('td', { class: 'col-uptime', text: online ? formatDuration(gateway.uptime) : '—' }),
    );
    row.addEventListener('click', (event) => {
      if (event.target.closest('a, input, select')) return;
      this.toggle(gateway);
    });
    return row;
  }

  /** How many columns the layout shows now: a colspan over a hidden column would give that
   *  column its width back (a fixed-layout table), so the wide rows span only these. */
  shownColumns() {
    const cells = [...this.thead.rows[0].cells].filter((cell) => getComputedStyle(cell).display !== 'none');
    return cells.length || COLUMNS;
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
    const row = el('tr', { class: 'ports-row' }, el('td', { colspan: this.shownColumns() }, grid));
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

  /** "to dc1-hub-gw01 ge-0/0/3: Latency 44.6 ms · Jitter 2.1 ms · Loss 1.00 % · MOS 4.10": the worst
   *  path the server picked, its own figures labelled and coloured. */
  worstNode(worst) {
    if (!worst) return null;
    const to = [worst.peer, worst.peer_port].filter(Boolean).join(' ');
    const parts = [];
    for (const [metric, label] of METRIC_LABELS) {
      if (worst[metric] === null || worst[metric] === undefined) continue;
      if (parts.length) parts.push(' · ');
      const deciding = metric === worst.metric ? ' deciding' : '';
      parts.push(el('span', { class: `metric-label${deciding}`, text: `${label} ` }), metricNode('span', metric, worst[metric], this.thresholds));
    }
    return el('span', { class: 'port-metrics' }, to ? el('span', { class: 'worst-peer', text: `to ${to}: ` }) : null, ...parts);
  }

  portCard(gateway, port) {
    const down = port.down === true;
    const disabled = port.enabled === false;
    const state = disabled ? 'disabled' : port.up ? 'up' : 'down';
    const facts = [];
    const fact = (label, ...value) => facts.push(el('dt', { text: label }), el('dd', {}, ...value));
    // Only what says something: an empty field, "enabled: yes" or "untagged" is left out.
    // A field whose template variables the server could not fill yet says so, never "{{…}}".
    const unresolved = new Set(port.unresolved || []);
    const pending = () => el('span', { class: 'unresolved', text: 'not resolved yet' });
    const known = (name) => (unresolved.has(name) ? pending() : port[name]);
    if (down) fact('Down for', sinceNode(port.down_since, '', gateway.site_id));
    if (port.description || unresolved.has('description')) fact('Description', known('description'));
    if (port.isp || port.asn) fact('ISP', text(port.isp), port.asn ? el('span', { class: 'text-body-secondary', text: ` ${port.asn}` }) : null);
    if (port.speed) fact('Speed', formatSpeed(port.speed));
    if (port.ip || unresolved.has('ip')) fact('WAN IP', known('ip'));
    if (port.gateway_ip || unresolved.has('gateway_ip')) fact('Gateway IP', known('gateway_ip'));
    if (port.vlan) fact('VLAN', String(port.vlan));
    if (port.address_mode || port.override !== undefined) {
      const address = [ADDRESS_MODES[port.address_mode] || text(port.address_mode)];
      if (port.override === true) address.push(' · device override');
      else if (port.override === false) address.push(' · from template');
      else address.push(el('span', { class: 'unresolved', text: ' · config not read yet' })); // null: not known yet
      fact('Address', ...address);
    }
    fact('Peer paths', el('span', { class: port.peers_up < port.peers_total ? 'count-bad' : '' },
      port.peers_up < port.peers_total ? icon('x-circle-fill') : null, `${port.peers_up ?? 0}/${port.peers_total ?? 0} up`));
    if (port.worst) fact('Worst path', this.worstNode(port.worst));
    if (!down && !disabled) {
      fact('Now', `↓ ${formatBits(port.rx_bps)}  ↑ ${formatBits(port.tx_bps)}`);
      fact('Last 24 h', ...volumeNodes(port.rx_bytes_24h, port.tx_bytes_24h, port.bytes_24h_partial));
      fact('Last 7 d', ...(port.bytes_7d_at
        ? volumeNodes(port.rx_bytes_7d, port.tx_bytes_7d, port.bytes_7d_partial, port.bytes_7d_at, gateway.site_id)
        : [el('span', { class: 'unresolved', text: 'not reckoned yet' })]));
    }
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
    const worst = port.worst;
    const why = port.degraded && worst
      ? `: ${worst.metric === 'mos' ? 'MOS' : worst.metric} ${formatMetric(worst.metric, worst[worst.metric])}` : '';
    return el('article', { class: `port-card port-${state}${port.degraded ? ' degraded' : ''}`, 'data-port': port.port_id, 'data-gateway': gateway.id },
      el('header', { class: 'port-header' },
        el('span', { class: 'port-id', text: text(port.port_id) }),
        port.wan_name ? el('span', { class: 'wan-name', text: port.wan_name }) : null,
        unresolved.has('wan_name') ? el('span', { class: 'unresolved', text: 'WAN name not resolved yet' }) : null,
        el('span', { class: `status-badge ${down ? 'status-down' : port.up ? 'status-up' : 'status-off'}` }, down ? icon('x-circle-fill') : null, state),
        el('span', { class: 'badge text-bg-dark border', text: WAN_TYPES[port.wan_type] || text(port.wan_type, 'type ?') }),
        port.degraded ? el('span', { class: 'badge badge-degraded' }, icon('exclamation-triangle-fill'), ` degraded${why}`) : null),
      el('dl', { class: 'port-facts' }, ...facts),
      el('footer', { class: 'port-actions' }, peerButton, trafficButton));
  }
}
