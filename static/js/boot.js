// A classic script, first in <head> and free of imports: it asks for the first screen's data
// before the style sheets and modules are parsed, so those requests no longer wait for the
// module graph. api.js's takeEarly() hands each answer to the module that asked for it
// (main.js: the first screen's rows, all rows and the org; overview.js: the MSP overview's /api/orgs).
(() => {
  const org = new URLSearchParams(window.location.search).get('org') || '';
  // As api.js's orgScoped: the page's org named on every org-scoped request.
  const scoped = (url) => (org ? `${url}?org=${encodeURIComponent(org)}` : url);
  // The body is parsed as soon as it is in, while the page still waits for its modules. No
  // `cache: 'no-store'` here (the answers are no-store anyway): it would not take the preload.
  // `parse` false: the body is left for the module to read (the 2.8 MB rows at 10,000
  // gateways: its parse is one long task, which must come after the first screen's draw).
  const ask = (url, parse = true) => {
    const response = fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
    const data = parse ? response.then((answer) => (answer.ok && answer.status !== 304 ? answer.json() : null)) : null;
    response.catch(() => {}); // the module that takes them reports the failure
    if (data) data.catch(() => {});
    return { response, data };
  };
  // The MSP overview (several orgs, none chosen) asks no org's data, only the overview's.
  window.mcsEarly = document.documentElement.dataset.view === 'overview'
    ? { '/api/orgs': ask('/api/orgs') }
    : {
      // The first screen's rows (a few KB) first, then all rows, read once the first are drawn.
      '/api/gateways/first': ask(scoped('/api/gateways/first')),
      '/api/gateways/rows': ask(scoped('/api/gateways/rows'), false),
      '/api/organization': ask(scoped('/api/organization')),
    };
  // A page's first Intl formatters load the locale's data, costly on a slow CPU: that is done
  // here while the data is on its way (when the page is idle), not as the table is drawn.
  const warm = () => {
    new Intl.NumberFormat().format(1234);
    new Intl.DateTimeFormat(undefined, { timeZoneName: 'short', weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(0);
  };
  if (window.requestIdleCallback) window.requestIdleCallback(warm, { timeout: 1000 });
  else setTimeout(warm, 0);
})();
