// Several orgs (the server rendered the page with data-orgs): the MSP overview when no org is
// chosen, one row per org in the server's order (worst first) with its severity, searchable,
// each row opening that org's dashboard (?org=<id>); in an org's dashboard, the header's org
// switcher. The page computes no rule: order, level, problem words and stale are /api/orgs'.

import { currentOrg, getJSON, overviewMode, takeEarly } from './api.js';
import { afterNextFrame, el, formatAge, formatNumber } from './format.js';
import { Freshness } from './freshness.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = Number(document.body.dataset.pollMs) || 10000;
const FIRST_SCREEN = 16; // org rows drawn before the first paint (an iPad shows 9 to 13); the rest right after
const LEVEL_WORDS = { critical: 'critical', warning: 'degraded', stale: 'stale', ok: 'healthy' };

const state = {
  etag: null,
  orgs: [],
  generatedAt: null, // the document's generated_at: each row's age is as of then
  serverOffset: null, // server clock − client clock (s), from the answer's Date header
  search: new URLSearchParams(window.location.search).get('find') || '',
  ages: [], // [node, org] of the rows shown: their age ticks between polls
  drawing: 0, // counts the renders: a later one drops what an earlier one had left to draw
};

/** The dashboard of one org: the page itself with ?org= (a deep link that survives reloads). */
export function orgUrl(orgId) {
  return `/?org=${encodeURIComponent(orgId)}`;
}

// ------------------------------------------------------------------ the header's switcher

function fillSwitcher(orgs) {
  const select = $('org-select');
  const fragment = document.createDocumentFragment();
  fragment.append(new Option('All organisations', '', false, !currentOrg));
  const known = orgs.some((org) => org.org_id === currentOrg);
  if (currentOrg && !known) fragment.append(new Option(currentOrg, currentOrg, true, true));
  for (const org of orgs) {
    const option = new Option(org.name || org.org_id, org.org_id, false, org.org_id === currentOrg);
    option.dataset.level = org.level;
    fragment.append(option);
  }
  select.replaceChildren(fragment);
  select.value = currentOrg;
}

function wireHeader() {
  $('org-select').addEventListener('change', (event) => {
    const chosen = event.target.value;
    window.location.assign(chosen ? orgUrl(chosen) : '/');
  });
}

// ------------------------------------------------------------------ the overview

function countPair(up, down, word) {
  const wrap = el('span', { class: 'org-pair' });
  wrap.append(el('span', { class: 'org-up', text: formatNumber(up) }));
  wrap.append(el('span', { class: down ? 'org-down count-bad' : 'org-down', text: `${formatNumber(down)} ${word}` }));
  return wrap;
}

function ageNode(org) {
  if (org.last_update === null || org.last_update === undefined) {
    return el('span', { class: 'org-age stale', text: 'no data yet' });
  }
  const node = el('span', { class: org.stale ? 'org-age stale' : 'org-age' });
  state.ages.push([node, org]);
  return node;
}

/** Seconds since the document was made, by the server's clock (its Date header), so a
 *  document the worker stopped renewing shows its true age however long ago it was made. */
function sinceGenerated() {
  if (state.generatedAt === null || state.serverOffset === null) return 0;
  return Math.max(0, Date.now() / 1000 + state.serverOffset - state.generatedAt);
}

function renderAges() {
  const elapsed = sinceGenerated();
  for (const [node, org] of state.ages) {
    const age = formatAge((org.age || 0) + elapsed);
    node.textContent = org.stale ? `stale · ${age}` : age;
  }
}

function orgRow(org) {
  const row = el('tr', { class: `org-row level-${org.level || 'ok'}`, 'data-org': org.org_id, 'data-severity': org.severity });
  const name = el('td', { class: 'col-org' });
  name.append(el('a', { class: 'org-link', href: orgUrl(org.org_id), text: org.name || org.org_id }));
  if (org.name) name.append(el('span', { class: 'org-id', text: org.org_id }));
  const problem = el('td', { class: 'col-problem' });
  const words = org.problem_text || 'no problem';
  problem.append(el('span', { class: 'visually-hidden', text: `${LEVEL_WORDS[org.level] || ''}: ` }));
  problem.append(el('span', { class: org.problem_text ? 'org-problem' : 'org-problem none', text: words, title: words }));
  if (org.error) problem.append(el('span', { class: 'org-error', text: org.error, title: org.error }));
  const degraded = el('td', { class: 'col-degraded' });
  degraded.append(el('span', { class: org.circuits_degraded ? 'count-warn' : '', text: formatNumber(org.circuits_degraded) }));
  row.append(
    name,
    problem,
    el('td', { class: 'col-gateways' }, countPair(org.gateways_online, org.gateways_offline, 'offline')),
    el('td', { class: 'col-circuits' }, countPair(org.circuits_up, org.circuits_down, 'down')),
    el('td', { class: 'col-paths' }, countPair(org.paths_up, org.paths_down, 'down')),
    degraded,
    el('td', { class: 'col-age' }, ageNode(org)),
  );
  return row;
}

function matches(org, needle) {
  return !needle || `${org.name || ''}\n${org.org_id}`.toLocaleLowerCase().includes(needle);
}

/** The rows that pass the search: the first screen now, the others in the next task, so the
 *  first paint lays out a screenful of rows, not every org. */
function renderRows() {
  const needle = state.search.trim().toLocaleLowerCase();
  const shown = state.orgs.filter((org) => matches(org, needle));
  state.ages = [];
  const drawing = ++state.drawing;
  const rows = (list) => {
    const fragment = document.createDocumentFragment();
    for (const org of list) fragment.append(orgRow(org));
    return fragment;
  };
  $('org-rows').replaceChildren(rows(shown.slice(0, FIRST_SCREEN)));
  renderAges();
  const total = state.orgs.length;
  $('org-count').textContent = shown.length === total
    ? `${formatNumber(total)} organisations`
    : `${formatNumber(shown.length)} of ${formatNumber(total)} organisations`;
  const status = $('org-status');
  status.hidden = shown.length > 0;
  status.textContent = total ? 'No organisation matches the search.' : 'No organisation yet.';
  if (shown.length <= FIRST_SCREEN) return Promise.resolve();
  // After the next frame: that frame lays out and paints the first screen alone.
  return new Promise((resolve) => {
    afterNextFrame(() => {
      if (drawing === state.drawing) {
        $('org-rows').append(rows(shown.slice(FIRST_SCREEN)));
        renderAges();
      }
      resolve();
    });
  });
}

function renderTotals(totals) {
  const t = totals || {};
  const parts = [`${formatNumber(t.orgs)} organisations`];
  if (t.orgs_critical) parts.push(`${formatNumber(t.orgs_critical)} critical`);
  if (t.orgs_warning) parts.push(`${formatNumber(t.orgs_warning)} degraded`);
  if (t.orgs_stale) parts.push(`${formatNumber(t.orgs_stale)} stale`);
  if (t.orgs_failing) parts.push(`${formatNumber(t.orgs_failing)} failing`);
  parts.push(`${formatNumber(t.gateways_online)} gateways online, ${formatNumber(t.gateways_offline)} offline`);
  $('overview-totals').textContent = parts.join(' · ');
  $('org-name').textContent = `MSP overview · ${formatNumber(t.orgs)} organisations`;
}

function writeSearch() {
  const params = new URLSearchParams(window.location.search);
  if (state.search) params.set('find', state.search);
  else params.delete('find');
  const query = params.toString();
  window.history.replaceState(null, '', `${window.location.pathname}${query ? `?${query}` : ''}`);
}

function wireOverview() {
  const search = $('org-search');
  search.value = state.search;
  let timer = null;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      state.search = search.value;
      writeSearch();
      renderRows();
    }, 120);
  });
  // A tap anywhere on a row opens its org (the name is the link, for keyboards and new tabs).
  $('org-rows').addEventListener('click', (event) => {
    if (event.target.closest('a')) return;
    const row = event.target.closest('tr.org-row');
    if (row) window.location.assign(orgUrl(row.dataset.org));
  });
  setInterval(renderAges, 1000);
}

// ------------------------------------------------------------------ loading

function showLoadError(error) {
  const status = $('org-status');
  if (!status || state.orgs.length) return;
  status.hidden = false;
  status.textContent = error.status === 503 && /no data/.test(error.message)
    ? 'Waiting for the worker’s first refresh…'
    : `Could not load the organisations: ${error.message}`;
}

async function load() {
  try {
    // boot.js asked already for the overview's first load
    const response = await (takeEarly('/api/orgs') || getJSON('/api/orgs', { etag: state.etag }));
    if (!response.notModified) {
      state.etag = response.etag;
      const overview = response.data || {};
      state.orgs = Array.isArray(overview.orgs) ? overview.orgs : [];
      const serverNow = Date.parse(response.date || '');
      state.serverOffset = Number.isNaN(serverNow) ? null : (serverNow - Date.now()) / 1000;
      state.generatedAt = typeof overview.generated_at === 'number' ? overview.generated_at : null;
      if (overviewMode) {
        renderTotals(overview.totals);
        await renderRows();
      }
      fillSwitcher(state.orgs);
    }
    document.body.dataset.orgsLoaded = 'true';
  } catch (error) {
    if (overviewMode) showLoadError(error);
  }
}

async function poll() {
  await load();
  setTimeout(poll, overviewMode ? POLL_MS : POLL_MS * 6); // the switcher needs no haste
}

/** The sticky table header sits under the app bar, whose height changes as it wraps. */
function followAppBar() {
  const bar = document.querySelector('.app-header');
  const set = () => document.documentElement.style.setProperty('--app-bar-h', `${bar.offsetHeight}px`);
  new ResizeObserver(set).observe(bar); // its first call comes before the first paint
}

wireHeader();
if (overviewMode) {
  // The overview is this module's alone (the server loads no main.js for it).
  followAppBar();
  wireOverview();
  // The deployment's data age and the worker's banners (stale, rate limit, failing) from
  // /api/status, by the server's rule, as the dashboard shows them: once the rows are up.
  const freshness = new Freshness({ pollMs: POLL_MS, onStatus() {} });
  poll().then(() => freshness.start());
} else {
  // In an org's dashboard the switcher waits for the org's own first screen (main.js).
  setTimeout(poll, 1500);
}
