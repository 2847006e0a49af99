// Wires the views together: load the org once, then follow the worker's refreshes by polling
// /api/status and refetching the gateway rows (If-None-Match) only when last_update moved.
// The full gateways payload (every WAN port) is fetched only when a search or CSV needs it.
// Only what the first screen shows (summary, table) loads with the page; the dialogs, the CSV
// and the worst circuits view are imported the first time they are used.

import { currentOrg, getGateway, getGatewayRows, getGateways, getOrganization, orgScoped, takeEarly } from './api.js';
import { afterNextFrame, setSiteZones, setTimeZone, thresholdsOf } from './format.js';
import { Freshness } from './freshness.js';
import { renderSummary } from './summary.js';
import { CARD_FILTERS, DEFAULT_SORT, GatewayTable } from './table.js';
import { sleText } from './sle.js';
import { SiteSle, siteZones, sleOf } from './rows.js';

const state = {
  rowsEtag: null,
  gatewaysEtag: null,
  full: null,
  fullFresh: false,
  fullWanted: false,
  fullLoading: null,
  generation: 0, // counts the row documents loaded: a full payload must match the rows
  orgEtag: null,
  payload: null,
  siteNames: new Map(),
  siteSle: new Map(),
  loadedUpdate: undefined,
  loading: null,
};

const $ = (id) => document.getElementById(id);
const FIRST_SCREEN = 10; // gateway rows drawn before the first paint (an iPad shows 6 or 7)

/** A module's one instance, built the first time it is wanted (its import, then `make`). */
function lazy(make) {
  let made = null;
  return () => {
    made ||= make();
    return made;
  };
}
const peerDialog = lazy(async () => new (await import('./peers.js')).PeerPathDialog($('peer-dialog')));
const trafficDialog = lazy(async () => new (await import('./chart.js')).TrafficDialog($('traffic-dialog')));
const table = new GatewayTable({
  tbody: $('gateway-rows'),
  thead: $('gateway-table').querySelector('thead'),
  countEl: $('row-count'),
  pageInfo: $('page-info'),
  prev: $('page-prev'),
  next: $('page-next'),
  pageSize: $('page-size'),
  onPeerPaths: async (gateway, port, opener) => (await peerDialog()).open(gateway, port, thresholdsOf(state.payload), opener),
  onTraffic: async (gateway, port, opener) => (await trafficDialog()).open(gateway, port, opener),
  fetchDetail: async (id) => (await getGateway(id)).data,
  onSearch: () => ensureFull().catch(() => {}),
});

// ------------------------------------------------------------------ the view in the URL
// Filters, sort, page, page size and the expanded gateways live in the query string, so a
// reload or a shared link shows the same view (replaceState: no history entry per tap).

function readUrl() {
  const params = new URLSearchParams(window.location.search);
  const [key, dir] = (params.get('sort') || '').split(':');
  return {
    filter: {
      search: params.get('q') || '',
      site: params.get('site') || '',
      problemsOnly: params.get('problems') === '1',
      card: CARD_FILTERS[params.get('show')] ? params.get('show') : '',
    },
    sort: key ? { key, dir: dir === 'desc' ? -1 : 1 } : null,
    page: Math.max(0, (Number(params.get('page')) || 1) - 1),
    pageSize: [25, 50, 100, 200].includes(Number(params.get('size'))) ? Number(params.get('size')) : 0,
    expanded: (params.get('open') || '').split(',').filter(Boolean),
    zone: ['utc', 'site'].includes(params.get('tz')) ? params.get('tz') : '',
  };
}

function writeUrl() {
  const params = new URLSearchParams();
  if (currentOrg) params.set('org', currentOrg); // the org shown (several orgs: overview.js)
  const { filter, sort } = table;
  if (filter.search) params.set('q', filter.search);
  if (filter.site) params.set('site', filter.site);
  if (filter.problemsOnly) params.set('problems', '1');
  if (filter.card) params.set('show', filter.card);
  if (sort.key !== DEFAULT_SORT.key || sort.dir !== DEFAULT_SORT.dir) {
    params.set('sort', `${sort.key}:${sort.dir < 0 ? 'desc' : 'asc'}`);
  }
  if (table.page) params.set('page', String(table.page + 1));
  if (table.pageSize !== 50) params.set('size', String(table.pageSize));
  if (table.expanded.size) params.set('open', [...table.expanded].join(','));
  if ($('time-zone').value) params.set('tz', $('time-zone').value);
  const query = params.toString();
  const url = `${window.location.pathname}${query ? `?${query}` : ''}${window.location.hash}`;
  if (url !== `${window.location.pathname}${window.location.search}${window.location.hash}`) {
    window.history.replaceState(null, '', url);
  }
}

/** The summary cards' filter buttons and the toolbar chip that clears them. */
function renderCardFilter() {
  const chosen = table.filter.card;
  for (const button of document.querySelectorAll('.card-filter')) {
    button.setAttribute('aria-pressed', button.dataset.filter === chosen ? 'true' : 'false');
  }
  $('card-filter-field').hidden = !chosen;
  $('card-filter-text').textContent = chosen ? `Showing: ${CARD_FILTERS[chosen].label}` : 'Filter';
}

/** Browser time, UTC or each site's own time (where Mist gives the site one) for every
 *  timestamp and chart axis; the option names the browser's zone. */
function chooseTimeZone(choice) {
  setTimeZone(choice === 'utc' ? 'UTC' : choice === 'site' ? 'site' : undefined);
}

/** The option names the browser's zone (an Intl look-up that costs: after the first table). */
function nameBrowserZone() {
  const browser = Intl.DateTimeFormat().resolvedOptions().timeZone;
  $('time-zone').options[0].textContent = browser ? `Browser time (${browser})` : 'Browser time';
}

function restoreView() {
  const view = readUrl();
  table.restore(view);
  $('search').value = view.filter.search;
  $('problems-only').checked = view.filter.problemsOnly;
  if (view.filter.site) $('site-filter').append(new Option(view.filter.site, view.filter.site, true, true));
  renderCardFilter();
  if (view.filter.search) table.onSearch();
  $('time-zone').value = view.zone;
  chooseTimeZone(view.zone);
}

/** The sticky table header sits under the app bar, whose height changes as it wraps. */
function followAppBar() {
  const bar = document.querySelector('.app-header');
  const set = () => document.documentElement.style.setProperty('--app-bar-h', `${bar.offsetHeight}px`);
  new ResizeObserver(set).observe(bar); // its first call comes before the first paint
}

/** Every gateway with its WAN ports (id → gateway), fetched once per refresh when needed. */
function ensureFull() {
  state.fullWanted = true;
  if (state.fullFresh) return Promise.resolve(state.full);
  if (!state.fullLoading) {
    state.fullLoading = (async () => {
      const generation = state.generation;
      try {
        const response = await getGateways(state.gatewaysEtag);
        if (!response.notModified) {
          state.gatewaysEtag = response.etag;
          state.full = new Map(((response.data && response.data.gateways) || []).map((g) => [g.id, g]));
        }
        state.fullFresh = generation === state.generation; // else: a refresh came meanwhile
        table.setDetails(state.full);
        document.body.dataset.full = 'true'; // every WAN port is known and drawn: searchable
        return state.full;
      } finally {
        state.fullLoading = null;
      }
    })();
  }
  return state.fullLoading;
}

/** The "All ports" CSV is a link: without data it has no address and says it is inactive. */
function allPortsLink(active) {
  const link = $('export-all');
  if (active) link.setAttribute('href', orgScoped(link.dataset.href)); // the org shown, of several
  else link.removeAttribute('href');
  link.classList.toggle('disabled', !active);
  if (active) link.removeAttribute('aria-disabled');
  else link.setAttribute('aria-disabled', 'true');
}

/** Before the first rows arrive the table body stays empty and this line says why. */
function placeholder(message) {
  const line = $('table-status');
  line.textContent = message;
  line.hidden = false;
}

let tableShown;
const firstTable = new Promise((resolve) => { tableShown = resolve; });

/** Thousands of sites make thousands of <option>s: built after the table is on screen.
 *  `sites` are the rows document's [id, name, sle, zone]: the sites that have gateways. */
async function fillSiteFilter(sites) {
  await firstTable;
  setTimeout(() => {
    const select = $('site-filter');
    const chosen = select.value;
    const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
    const named = [...sites].sort((a, b) => collator.compare(String(a[1] || ''), String(b[1] || '')));
    const fragment = document.createDocumentFragment();
    fragment.append(new Option('All sites', ''));
    for (const [id, name, flat] of named) {
      const sle = sleOf(flat);
      const option = new Option(`${name || id}${sleText(sle)}`, id);
      if (sle && sle.grade) option.dataset.sle = sle.grade;
      fragment.append(option);
    }
    select.replaceChildren(fragment);
    select.value = named.some(([id]) => id === chosen) ? chosen : '';
  }, 50);
}

/** The first load takes the requests boot.js started early; later loads ask again. */
function take(url, request) {
  return takeEarly(url) || request();
}

async function loadOrganization() {
  try {
    const response = await take('/api/organization', () => getOrganization(state.orgEtag));
    if (response.notModified) return;
    state.orgEtag = response.etag;
    const org = response.data || {};
    $('org-name').textContent = org.msp_name ? `${org.name} · ${org.msp_name}` : org.name || '';
  } catch {
    // the org name is decoration
  }
}

/** The page's first load draws the first screen's document (/api/gateways/first, a few KB:
 *  boot.js asked it first) while all rows are still on their way, then reads those (a long
 *  parse at 10,000 gateways) after that frame. Its rows are the default view's first ones:
 *  another view (filters, sort, page, an open gateway) waits for all rows. Returns whether
 *  it drew. All rows follow and are drawn whatever their `generated_at`: they win. */
async function drawFirstScreen() {
  const early = takeEarly('/api/gateways/first');
  if (!early) return false;
  const { filter, sort } = table;
  const plain = !filter.search && !filter.site && !filter.problemsOnly && !filter.card && !table.page
    && sort.key === DEFAULT_SORT.key && sort.dir === DEFAULT_SORT.dir && !table.expanded.size
    && table.pageSize <= 50;
  const response = await early.catch(() => null); // all rows decide: their error is shown
  if (!plain || !response || response.notModified || !response.data || table.loaded) return false;
  const first = response.data;
  const sites = Array.isArray(first.sites) ? first.sites : [];
  table.siteSle = new SiteSle(sites);
  setSiteZones(siteZones(first));
  renderSummary(first.summary);
  table.setData(first, new Map(sites), new Map(), FIRST_SCREEN);
  $('table-status').hidden = true;
  await new Promise((resolve) => afterNextFrame(resolve)); // drawn before the long parse
  return true;
}

/** All rows could not be read after the first screen's were drawn: the page's usual error. */
function undrawFirstScreen() {
  table.loaded = false;
  table.gateways = [];
  $('gateway-rows').replaceChildren();
  $('row-count').textContent = '';
  $('page-info').textContent = '';
  $('summary').hidden = true;
}

async function loadGateways() {
  const firstDrawn = await drawFirstScreen();
  let response;
  try {
    response = await take('/api/gateways/rows', () => getGatewayRows(state.rowsEtag));
  } catch (error) {
    if (firstDrawn && !state.payload) undrawFirstScreen();
    throw error;
  }
  if (response.notModified) return;
  state.rowsEtag = response.etag;
  state.payload = response.data;
  state.generation += 1;
  state.fullFresh = false;
  // Expanded gateways get their new WAN ports before the table redraws: no flicker.
  const details = new Map();
  await Promise.all([...table.expanded].map(async (id) => {
    try {
      details.set(id, (await getGateway(id)).data);
    } catch {
      // it left the org, or the next poll will tell
    }
  }));
  const sites = Array.isArray(state.payload.sites) ? state.payload.sites : [];
  state.siteNames = new Map(sites); // [id, name, …] → id → name
  state.siteSle = new SiteSle(sites);
  table.siteSle = state.siteSle;
  setSiteZones(siteZones(state.payload));
  renderSummary(state.payload.summary);
  // The first load draws a screenful of rows before the first paint, the rest after it.
  const drawn = table.setData(state.payload, state.siteNames, details, table.loaded ? 0 : FIRST_SCREEN);
  $('export-filtered').disabled = !table.filtered().length;
  allPortsLink(table.gateways.length > 0);
  fillSiteFilter(sites);
  $('table-status').hidden = true;
  requestAnimationFrame(() => tableShown());
  if (state.fullWanted) ensureFull().catch(() => {});
  await drawn;
}

/** Load (or reload) everything; concurrent calls share one load. */
function load(lastUpdate) {
  if (state.loading) return state.loading;
  state.loading = (async () => {
    try {
      await Promise.all([loadGateways(), loadOrganization(), document.body.dataset.view === 'worst' ? loadWorst() : null]);
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

// ------------------------------------------------------------------ the worst circuits view
// `#worst` in the URL shows it instead of the table; a row opens its gateway in the table.

const worst = lazy(async () => new (await import('./worst.js')).WorstView({
  section: $('worst-view'),
  onOpen: (id) => {
    document.dispatchEvent(new CustomEvent('mcs:show-view', { detail: { view: 'gateways' } }));
    if (table.reveal(id)) {
      $('search').value = table.filter.search;
      $('problems-only').checked = table.filter.problemsOnly;
      $('site-filter').value = table.filter.site;
    }
  },
}));
const loadWorst = async () => (await worst()).load();

// sla.js owns the views' nav; the worst circuits load whenever their view shows
document.addEventListener('mcs:view', (event) => {
  if (event.detail.view === 'worst') loadWorst();
});
if (document.body.dataset.view === 'worst') loadWorst();

table.onChange = () => {
  writeUrl();
  renderCardFilter();
  $('export-filtered').disabled = !table.filtered().length;
};
restoreView();
followAppBar();

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
for (const button of document.querySelectorAll('.card-filter')) {
  button.addEventListener('click', () => {
    const chosen = button.dataset.filter;
    table.setFilter({ card: table.filter.card === chosen ? '' : chosen });
  });
}
$('time-zone').addEventListener('change', (event) => {
  chooseTimeZone(event.target.value);
  nameBrowserZone();
  if (table.loaded) table.render();
  freshness.renderAge();
  writeUrl();
});
$('card-filter-clear').addEventListener('click', () => {
  table.setFilter({ card: '' });
  $('search').focus();
});
$('export-filtered').addEventListener('click', async () => {
  const button = $('export-filtered');
  button.disabled = true;
  try {
    const [full, { downloadCsv }] = await Promise.all([ensureFull(), import('./csv.js')]);
    const shown = table.filtered().map((gateway) => (full && full.get(gateway.id)) || gateway);
    downloadCsv(shown, state.siteNames, state.payload && state.payload.csv, state.siteSle);
  } catch (error) {
    $('row-count').textContent = `CSV failed: ${error.message}`;
  } finally {
    button.disabled = false;
  }
});

// The MSP overview (several orgs, none chosen) is overview.js's alone: the server loads no
// main.js there.
load(undefined);
// The status poll starts once the table is up (or after 2 s without data): first things first.
Promise.race([firstTable, new Promise((resolve) => setTimeout(resolve, 2000))]).then(() => {
  freshness.start();
  setTimeout(nameBrowserZone, 0);
});
