// The compact rows document (/api/gateways/rows: columns + row arrays) as gateway objects.

const ROW = Symbol('row');
const rowShapes = new Map(); // the columns' names joined → the prototype that reads them

/** A prototype whose properties read a row array by the server's column names, so a row
 *  becomes a gateway object without copying its 20-odd values (10,000 rows at load). */
function rowShape(columns) {
  const key = columns.join('\n');
  let shape = rowShapes.get(key);
  if (!shape) {
    shape = {};
    columns.forEach((name, index) => {
      Object.defineProperty(shape, name, {
        enumerable: true,
        get() { return this[ROW][index]; },
        set(value) { Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true }); },
      });
    });
    rowShapes.set(key, shape);
  }
  return shape;
}

/** The compact rows document as objects (cheap: 10,000 rows in a few milliseconds). */
export function rowsToGateways(document) {
  const columns = (document && document.columns) || [];
  const sites = (document && document.sites) || [];
  const shape = rowShape(columns);
  return ((document && document.rows) || []).map((row) => {
    const gateway = Object.create(shape);
    gateway[ROW] = row;
    const site = sites[gateway.site];
    gateway.site_id = site ? site[0] : '';
    return gateway;
  });
}

const SLE_NAMES = ['gateway-health', 'wan-link-health', 'application-health'];

/** A site's WAN SLEs as the rows document sends them (flat: the three values, their three
 *  grades, the site's grade; DATA.md §3.6) back as §3.2's object, which the views show. */
export function sleOf(flat) {
  if (!Array.isArray(flat)) return null;
  const sle = { grades: {}, grade: flat[6] ?? null };
  SLE_NAMES.forEach((name, index) => {
    sle[name] = flat[index] ?? null;
    sle.grades[name] = flat[index + 3] ?? null;
  });
  return sle;
}

/** Site id → its SLEs (§3.2's object), each read the first time it is asked for: the first
 *  screen shows a few dozen sites, not the thousands the document lists. */
export class SiteSle {
  constructor(sites = []) {
    this.flat = new Map(sites.map((site) => [site[0], site[2]]));
    this.read = new Map();
  }

  get(id) {
    if (!this.read.has(id)) this.read.set(id, sleOf(this.flat.get(id)));
    return this.read.get(id);
  }
}

/** Site id → the time zone Mist gives that site (the document's `zones`, by index). */
export function siteZones(document) {
  const zones = (document && document.zones) || [];
  const out = new Map();
  for (const site of (document && document.sites) || []) {
    const zone = Number.isInteger(site[3]) ? zones[site[3]] : null;
    if (typeof zone === 'string' && zone) out.set(site[0], zone);
  }
  return out;
}

/** Gateways in all, those the filters keep (`rows`) and their WAN ports. `whole`: the first
 *  screen's document (/api/gateways/first: the first rows of `rows_total`), whose totals the
 *  count line and pages show, as they will once every row is in, while no filter drops one. */
export function rowCounts(rows, gateways, whole = null) {
  if (whole && rows.length === gateways.length) {
    return { total: whole.rows_total, shown: whole.rows_total, ports: whole.ports_total };
  }
  const ports = rows.reduce((sum, gateway) => sum + (gateway.ports_total || 0), 0);
  return { total: gateways.length, shown: rows.length, ports };
}
