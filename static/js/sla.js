// The page's views: the one nav between the gateway table, the worst circuits, the ISP ranking
// and the events timeline (the URL's #worst / #isps / #events keeps the choice), and the port
// cards' availability. The shown view reloads each poll interval, so it follows the worker's
// refreshes. Other modules hear `mcs:view` when a view shows (main.js loads the worst
// circuits on it) and ask for one with `mcs:show-view`. A view's module (and its data) loads
// the first time the view shows, not with the page.

import { orgScoped } from './api.js';
import { startAvailability } from './availability.js';

const VIEWS = ['gateways', 'worst', 'isps', 'events'];
const POLL_MS = Number(document.body.dataset.pollMs) || 10000;

function viewOfHash() {
  const name = window.location.hash.replace('#', '');
  return VIEWS.includes(name) ? name : 'gateways';
}

function start() {
  startAvailability(document.getElementById('gateway-rows'));
  for (const link of document.querySelectorAll('.sla-actions a[href^="/api/"]')) {
    link.setAttribute('href', orgScoped(link.getAttribute('href'))); // the org shown, of several
  }
  const nav = document.getElementById('view-nav');
  const ispRoot = document.getElementById('isp-view');
  const timelineRoot = document.getElementById('timeline-view');
  if (!nav || !ispRoot || !timelineRoot) return;
  let isps = null;
  let timeline = null;
  const loaders = {
    isps: async () => {
      isps ||= import('./isps.js').then(({ IspView }) => new IspView(ispRoot));
      return (await isps).load();
    },
    events: async () => {
      timeline ||= import('./timeline.js').then(({ Timeline }) => new Timeline(timelineRoot));
      return (await timeline).load();
    },
  };

  const show = (view) => {
    document.body.dataset.view = view;
    for (const button of nav.querySelectorAll('[data-view]')) {
      const current = button.dataset.view === view;
      button.classList.toggle('active', current);
      if (current) button.setAttribute('aria-current', 'page');
      else button.removeAttribute('aria-current');
    }
    ispRoot.hidden = view !== 'isps';
    timelineRoot.hidden = view !== 'events';
    if (loaders[view]) loaders[view]();
    document.dispatchEvent(new CustomEvent('mcs:view', { detail: { view } }));
  };
  const choose = (view) => {
    const url = `${window.location.pathname}${window.location.search}${view === 'gateways' ? '' : `#${view}`}`;
    window.history.replaceState(null, '', url);
    show(view);
  };

  nav.addEventListener('click', (event) => {
    const button = event.target.closest('[data-view]');
    if (button) choose(button.dataset.view);
  });
  document.addEventListener('mcs:show-view', (event) => choose(event.detail.view));
  window.addEventListener('hashchange', () => show(viewOfHash()));
  setInterval(() => {
    const view = document.body.dataset.view;
    if (!document.hidden && loaders[view]) loaders[view]();
  }, POLL_MS);
  show(viewOfHash());
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
