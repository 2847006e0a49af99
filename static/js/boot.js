// Loaded as an async module: it runs as soon as it arrives, while the page is still parsing,
// so the first data requests start early. main.js takes these promises for its first load.

import { getGatewayRows, getJSON, getOrganization, overviewMode } from './api.js';

function early(promise) {
  promise.catch(() => {}); // main.js reports failures; nothing is unhandled meanwhile
  return promise;
}

// The MSP overview (several orgs, none chosen) asks no org's data, only its own (overview.js).
export const firstLoad = overviewMode ? { rows: null, org: null, orgs: early(getJSON('/api/orgs')) } : {
  rows: early(getGatewayRows(null)),
  org: early(getOrganization(null)),
};
