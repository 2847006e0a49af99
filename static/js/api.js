// The JSON API, and nothing else: the page never talks to Redis or Mist.

// With several orgs the page shows one (?org=<id> in its URL: every org-scoped request names
// it) or, with none chosen, the MSP overview the server rendered (overview.js): no org's data.
export const currentOrg = new URLSearchParams(window.location.search).get('org') || '';
export const overviewMode = document.documentElement.dataset.view === 'overview';

/** `url` naming the page's org; the overview's own routes (/api/orgs…) list every org. */
export function orgScoped(url) {
  if (!currentOrg || /^\/api\/orgs(?:[.?]|$)/.test(url)) return url;
  return `${url}${url.includes('?') ? '&' : '?'}org=${encodeURIComponent(currentOrg)}`;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * GET a JSON resource. With `etag`, a 304 resolves to {notModified: true} so an unchanged
 * org is never downloaded or parsed twice.
 */
export async function getJSON(url, { etag = null, signal = undefined } = {}) {
  const headers = { Accept: 'application/json' };
  if (etag) headers['If-None-Match'] = etag;
  return answerOf(fetch(orgScoped(url), { headers, signal, cache: 'no-store', credentials: 'same-origin' }), etag);
}

/** The answer of a fetch: {notModified, etag, date, data}, or an ApiError saying why not.
 *  `parsed`: the body's JSON when boot.js parsed it already (a successful answer). */
async function answerOf(request, etag, parsed = null) {
  let response;
  try {
    response = await request;
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'the dashboard server cannot be reached');
  }
  if (response.status === 304) return { notModified: true, etag };
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      const body = await response.json();
      if (body && typeof body.error === 'string') message = body.error;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(response.status, message);
  }
  const date = response.headers.get('Date'); // the server's clock (a stored document's age)
  const data = await (parsed || response.json());
  return { notModified: false, etag: response.headers.get('ETag'), date, data };
}

/** The answer to the request boot.js made for `url` before the modules loaded (once; null
 *  when it made none or it was taken): the first load needs not wait for the modules. */
export function takeEarly(url) {
  const early = window.mcsEarly || {};
  const request = early[url];
  if (!request) return null;
  delete early[url];
  return answerOf(request.response, null, request.data);
}

export const getStatus = () => getJSON('/api/status');
export const getOrganization = (etag) => getJSON('/api/organization', { etag });
export const getGateways = (etag) => getJSON('/api/gateways', { etag });
export const getGatewayRows = (etag) => getJSON('/api/gateways/rows', { etag });

/** One gateway with its WAN ports (for the expanded row). */
export function getGateway(gatewayId) {
  return getJSON(`/api/gateway/${encodeURIComponent(gatewayId)}`);
}

export function getPeerPaths(gatewayId) {
  return getJSON(`/api/gateway/${encodeURIComponent(gatewayId)}/vpn-peers`);
}

/** Port ids contain slashes (ge-0/0/0): they travel URL-encoded. */
export function getTraffic(gatewayId, portId, range, signal) {
  const url =
    `/api/gateway/${encodeURIComponent(gatewayId)}/port/${encodeURIComponent(portId)}` +
    `/traffic?range=${encodeURIComponent(range)}`;
  return getJSON(url, { signal });
}
