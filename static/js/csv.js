// CSV of exactly what the filters show: one row per WAN port, Excel-safe, UTF-8 with BOM.
// The server is the one source of the format: the rows document's `csv` names the columns
// (views.export.CSV_COLUMNS, as /api/export.csv has them), the characters Excel would run as a
// formula (`formula_starts`) and those after which Excel may start a new cell (`cell_breaks`:
// `;` in many locales, tab). This module only knows how to read each named column from a
// gateway and its port.

/** "198.51.100.10/29" → 29 (views.export.prefix_length's rule); null without a prefix. */
export function prefixLength(address) {
  const match = /\/(\d{1,3})\s*$/.exec(typeof address === 'string' ? address : '');
  return match && Number(match[1]) <= 128 ? Number(match[1]) : null;
}

/** One getter per server column name: (gateway, port, siteNames, siteSle) → the raw cell
 * value (`siteSle`: site id → its §3.2 `sle`, Mist's values as sent). */
export const CSV_GETTERS = {
  site: (g, p, siteNames) => siteNames.get(g.site_id) || '',
  gateway: (g) => g.name,
  gateway_id: (g) => g.id,
  model: (g) => g.model,
  gateway_status: (g) => g.status,
  uptime_s: (g) => (g.status === 'connected' ? g.uptime : null), // an offline gateway's is old
  port: (g, p) => p.port_id,
  wan_name: (g, p) => p.wan_name,
  description: (g, p) => p.description,
  isp: (g, p) => p.isp,
  asn: (g, p) => p.asn,
  wan_type: (g, p) => p.wan_type,
  enabled: (g, p) => p.enabled,
  link: (g, p) => (p.up === null || p.up === undefined ? null : p.up ? 'up' : 'down'),
  speed_mbps: (g, p) => p.speed,
  wan_ip: (g, p) => p.ip,
  wan_prefix_length: (g, p) => prefixLength(p.ip),
  gateway_ip: (g, p) => p.gateway_ip,
  vlan: (g, p) => p.vlan,
  address_mode: (g, p) => p.address_mode,
  override: (g, p) => p.override,
  peer_paths_up: (g, p) => p.peers_up,
  peer_paths_total: (g, p) => p.peers_total,
  latency_ms: (g, p) => p.latency,
  jitter_ms: (g, p) => p.jitter,
  loss_pct: (g, p) => p.loss,
  mos: (g, p) => p.mos,
  degraded: (g, p) => p.degraded,
  rx_bps: (g, p) => p.rx_bps,
  tx_bps: (g, p) => p.tx_bps,
  rx_bytes_24h: (g, p) => p.rx_bytes_24h,
  tx_bytes_24h: (g, p) => p.tx_bytes_24h,
  bytes_24h_partial: (g, p) => p.bytes_24h_partial,
  rx_bytes_7d: (g, p) => p.rx_bytes_7d,
  tx_bytes_7d: (g, p) => p.tx_bytes_7d,
  bytes_7d_partial: (g, p) => p.bytes_7d_partial,
  site_gateway_health: (g, p, n, sle) => sle && sle.get(g.site_id)?.['gateway-health'],
  site_wan_link_health: (g, p, n, sle) => sle && sle.get(g.site_id)?.['wan-link-health'],
  site_application_health: (g, p, n, sle) => sle && sle.get(g.site_id)?.['application-health'],
};

/** The server's columns this page cannot fill (none, unless the two drifted apart). */
export function missingGetters(spec) {
  return ((spec && spec.columns) || []).filter((column) => !Object.hasOwn(CSV_GETTERS, column));
}

/** A regular-expression character class of exactly the characters of `chars`. */
function charClass(chars) {
  const escaped = [...(chars || '')].map((c) => `\\u{${c.codePointAt(0).toString(16)}}`);
  return `[${escaped.join('')}]`;
}

/** Where a quote goes under the server's rule `spec`: before a formula character that starts
 * the cell or follows a cell break. */
export function unsafeSpots(spec) {
  const starts = charClass(spec.formula_starts);
  const breaks = spec.cell_breaks ? `|(?<=${charClass(spec.cell_breaks)})` : '';
  const quotes = spec.cell_quotes ? `${charClass(spec.cell_quotes)}*` : '';
  return new RegExp(`(?:^${breaks})(?=${quotes}${starts})`, 'gu');
}

/** A cell Excel will never run as a formula: each formula character at the start of the cell
 * or after a cell break gets a quote (`spots` is unsafeSpots of the server's rule). */
export function excelSafe(value, spots) {
  if (value === null || value === undefined) return '';
  const cell = typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value);
  return cell.replace(spots, "'");
}

function quote(cell) {
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}

/** The CSV text of `gateways` in the server's format `spec` ({columns, formula_starts,
 * cell_breaks}). */
export function toCsv(gateways, siteNames, spec, siteSle = null) {
  const missing = missingGetters(spec);
  if (missing.length) throw new Error(`no getter for CSV column ${missing.join(', ')}`);
  const getters = spec.columns.map((column) => CSV_GETTERS[column]);
  const spots = unsafeSpots(spec);
  const lines = [spec.columns.join(',')];
  for (const gateway of gateways) {
    const ports = gateway.ports && gateway.ports.length ? gateway.ports : [{}];
    for (const port of ports) {
      const cells = getters.map((get) => quote(excelSafe(get(gateway, port, siteNames, siteSle), spots)));
      lines.push(cells.join(','));
    }
  }
  return `\ufeff${lines.join('\r\n')}\r\n`;
}

function stamp(date = new Date()) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}`;
}

export function downloadCsv(gateways, siteNames, spec, siteSle = null) {
  const blob = new Blob([toCsv(gateways, siteNames, spec, siteSle)], { type: 'text/csv;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = `mist-circuits-shown-${stamp()}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
