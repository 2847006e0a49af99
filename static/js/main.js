// Wires the views together: load the org once, then follow the worker's refreshes by polling
// /api/status and refetching /api/gateways (If-None-Match) only when last_update moved.

import { getGateways, getOrganization, getSites } from './api.js';
import { PeerPathDialog } from './peers.js';
import { TrafficDialog } from './chart.js';
import { downloadCsv } from './csv.js';
import { el, thresholdsOf } from './format.js';
import { Freshness } from './freshness.js';
import { renderSummary } from './summary.js';
import { GatewayTable } from './table.js';

const state = {
  gatewaysEtag: null,
  sitesEtag: null,
  orgEtag: null,
  payload: null,
  siteNames: new Map(),
  loadedUpdate: undefined,
  loading: null,
};

const $ = (id) => document.getElementById(id);
const peerDialog = new PeerPathDialog($('peer-dialog'));
const trafficDialog = new TrafficDialog($('traffic-dialog'));
const table = new GatewayTable({
  tbody: $('gateway-rows'),
  thead: $('gateway-table').querySelector('thead'),
  countEl: $('row-count'),
  pageInfo: $('page-info'),
  prev: $('page-prev'),
  next: $('page-next'),
  pageSize: $('page-size'),
  onPeerPaths: (gateway, port, opener) => peerDialog.open(gateway, port, thresholdsOf(state.payload), opener),
  onTraffic: (gateway, port, opener) => trafficDialog.open(gateway, port, opener),
});

function placeholder(message) {
  $('gateway-rows').replaceChildren(el('tr', { class: 'placeholder-row' }, el('td', { colspan: 9, text: message })));
}

function fillSiteFilter(sites) {
  const select = $('site-filter');
  const chosen = select.value;
  const options = [el('option', { value: '', text: 'All sites' })];
  const named = sites
    .filter((site) => site.gateway_count === undefined || site.gateway_count > 0)
    .sort((a, b) => String(a.name).localeCompare(String(b.name)));
  for (const site of named) options.push(el('option', { value: site.id, text: site.name || site.id }));
  select.replaceChildren(...options);
  select.value = named.some((site) => site.id === chosen) ? chosen : '';
}

async function loadSites() {
  try {
    const response = await getSites(state.sitesEtag);
    if (response.notModified) return;
    state.sitesEtag = response.etag;
    const sites = Array.isArray(response.data) ? response.data : [];
    state.siteNames = new Map(sites.map((site) => [site.id, site.name || '']));
    fillSiteFilter(sites);
    table.setSiteNames(state.siteNames);
  } catch {
    // site names are a nicety: the table still works with ids
  }
}

async function loadOrganization() {
  try {
    const response = await getOrganization(state.orgEtag);
    if (response.notModified) return;
    state.orgEtag = response.etag;
    const org = response.data || {};
    $('org-name').textContent = org.msp_name ? `${org.name} · ${org.msp_name}` : org.name || '';
  } catch {
    // the org name is decoration
  }
}

async function loadGateways() {
  const response = await getGateways(state.gatewaysEtag);
  if (response.notModified) return;
  state.gatewaysEtag = response.etag;
  state.payload = response.data;
  renderSummary(state.payload.summary);
  table.setData(state.payload, state.siteNames);
}

/** Load (or reload) everything; concurrent calls share one load. */
function load(lastUpdate) {
  if (state.loading) return state.loading;
  state.loading = (async () => {
    try {
      await Promise.all([loadGateways(), loadSites(), loadOrganization()]);
      state.loadedUpdate = lastUpdate;
      document.body.dataset.loaded = 'true';
    } catch (error) {
      if (!state.payload) {
        placeholder(error.status === 503 && /no data/.test(error.message)
          ? 'Waiting for the worker’s first refresh…'
          : `Could not load gateways: ${error.message}`);
      }
    } finally {
      state.loading = null;
    }
  })();
  return state.loading;
}

const freshness = new Freshness({
  pollMs: Number(document.body.dataset.pollMs) || 10000,
  onStatus(status) {
    const lastUpdate = status.last_update ?? null;
    if (!state.loading && lastUpdate !== state.loadedUpdate) load(lastUpdate);
  },
});

let searchTimer = null;
$('search').addEventListener('input', (event) => {
  clearTimeout(searchTimer);
  const value = event.target.value;
  searchTimer = setTimeout(() => table.setFilter({ search: value }), 150);
});
$('site-filter').addEventListener('change', (event) => table.setFilter({ site: event.target.value }));
$('problems-only').addEventListener('change', (event) => table.setFilter({ problemsOnly: event.target.checked }));
$('export-filtered').addEventListener('click', () => downloadCsv(table.filtered(), state.siteNames));

load(undefined);
freshness.start();
