// CSV of exactly what the filters show: one row per WAN port, Excel-safe, UTF-8 with BOM.
// The same columns and rules as the server's /api/export.csv (views/export.py).

export const CSV_COLUMNS = [
  'site', 'gateway', 'gateway_id', 'model', 'gateway_status', 'port', 'wan_name', 'description',
  'isp', 'asn', 'wan_type', 'enabled', 'link', 'speed_mbps', 'wan_ip', 'gateway_ip', 'vlan',
  'address_mode', 'override', 'peer_paths_up', 'peer_paths_total', 'latency_ms', 'jitter_ms',
  'loss_pct', 'mos', 'degraded', 'rx_bps', 'tx_bps', 'rx_bytes_24h', 'tx_bytes_24h',
];
const FORMULA_START = /^[=+\-@\t\r]/;

/** A cell Excel will never run as a formula. */
export function excelSafe(value) {
  if (value === null || value === undefined) return '';
  const cell = typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value);
  return FORMULA_START.test(cell) ? `'${cell}` : cell;
}

function quote(cell) {
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}

export function circuitRows(gateways, siteNames) {
  const rows = [];
  for (const gateway of gateways) {
    const base = [siteNames.get(gateway.site_id) || '', gateway.name, gateway.id, gateway.model, gateway.status];
    const ports = gateway.ports && gateway.ports.length ? gateway.ports : [{}];
    for (const port of ports) {
      const link = port.up === null || port.up === undefined ? null : port.up ? 'up' : 'down';
      rows.push([
        ...base, port.port_id, port.wan_name, port.description, port.isp, port.asn, port.wan_type,
        port.enabled, link, port.speed, port.ip, port.gateway_ip, port.vlan, port.address_mode,
        port.override, port.peers_up, port.peers_total, port.latency, port.jitter, port.loss,
        port.mos, port.degraded, port.rx_bps, port.tx_bps, port.rx_bytes_24h, port.tx_bytes_24h,
      ]);
    }
  }
  return rows;
}

export function toCsv(rows) {
  const lines = [CSV_COLUMNS.join(',')];
  for (const row of rows) lines.push(row.map((cell) => quote(excelSafe(cell))).join(','));
  return `\ufeff${lines.join('\r\n')}\r\n`;
}

function stamp(date = new Date()) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}`;
}

export function downloadCsv(gateways, siteNames) {
  const blob = new Blob([toCsv(circuitRows(gateways, siteNames))], { type: 'text/csv;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = `mist-circuits-shown-${stamp()}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
