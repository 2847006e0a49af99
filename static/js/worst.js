// The "Worst circuits" view: the worker's /api/worst (DATA.md §3.11), the N worst WAN ports of
// the org by each measure. Choosing a measure (its button or its column header) shows that
// measure's N worst, worst first, as the server ranked them; choosing it again turns the order
// round; the text columns sort the list shown A→Z. A row opens its gateway in the table.
// The worker decides which measures there are (`measures`: availability and flaps over 24 h
// only when it counted them) and ranks each; the page names and draws them.

import { getJSON } from './api.js';
import { percentText } from './availability.js';
import { el, formatBits, metricNode, text } from './format.js';
import { icon } from './icons.js';

const LABELS = {
  score: 'Worst path', loss: 'Loss', latency: 'Latency', jitter: 'Jitter', mos: 'MOS',
  utilisation: 'Utilisation', availability: 'Availability 24 h', flaps: 'Flaps 24 h',
};
// How the caption names a measure's list, and what it says when the list is empty.
const BY = { availability: 'availability over the last 24 h', flaps: 'flaps in the last 24 h' };
const NONE = {
  availability: 'No WAN port lost availability in the last 24 h.',
  flaps: 'No WAN port flapped in the last 24 h.',
};
const TEXT_COLUMNS = [['gateway', 'Gateway'], ['port', 'WAN port'], ['isp', 'ISP']];

function percent(share) {
  return share === null || share === undefined ? '—' : `${(share * 100).toFixed(1)} %`;
}

export class WorstView {
  constructor({ section, onOpen }) {
    this.section = section;
    this.onOpen = onOpen;
    this.caption = section.querySelector('#worst-caption');
    this.buttons = section.querySelector('#worst-measures');
    this.headRow = section.querySelector('#worst-head-row');
    this.body = section.querySelector('#worst-rows');
    this.etag = null;
    this.document = null;
    this.measure = 'score';
    this.reversed = false;
    this.textSort = null;
    this.collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
  }

  /** Fetch the document (If-None-Match: unchanged costs nothing) and draw it. */
  async load() {
    try {
      const response = await getJSON('/api/worst', { etag: this.etag });
      if (response.notModified) return;
      this.etag = response.etag;
      this.document = response.data;
      this.render();
    } catch (error) {
      this.caption.textContent = error.status === 503
        ? 'Waiting for the worker’s first refresh…'
        : `Could not load the worst circuits: ${error.message}`;
    }
  }

  /** The measures the worker sent, in its order, with their names. */
  measures() {
    const sent = (this.document && this.document.measures) || [];
    return sent.map((name) => [name, LABELS[name] || name]);
  }

  choose(key) {
    if (this.measures().some(([name]) => name === key)) {
      this.reversed = this.measure === key && !this.textSort ? !this.reversed : false;
      this.measure = key;
      this.textSort = null;
    } else {
      const dir = this.textSort && this.textSort.key === key ? -this.textSort.dir : 1;
      this.textSort = { key, dir };
    }
    this.render();
  }

  /** The rows of the chosen measure's ranking, as objects, in the order chosen. */
  rows() {
    const doc = this.document;
    const columns = doc.columns || [];
    const ranking = (doc.rankings && doc.rankings[this.measure]) || [];
    const rows = ranking.map((index, rank) => {
      const row = { rank: rank + 1 };
      columns.forEach((name, i) => { row[name] = doc.rows[index][i]; });
      return row;
    });
    if (this.textSort) {
      const { key, dir } = this.textSort;
      rows.sort((a, b) => dir * this.collator.compare(String(a[key] || ''), String(b[key] || '')) || a.rank - b.rank);
    } else if (this.reversed) {
      rows.reverse();
    }
    return rows;
  }

  render() {
    if (!this.document) return;
    const measures = this.measures();
    if (!measures.some(([name]) => name === this.measure)) this.measure = measures.length ? measures[0][0] : 'score';
    const by = BY[this.measure] || (LABELS[this.measure] || this.measure).toLowerCase();
    this.buttons.replaceChildren(...measures.map(([name, text_]) => {
      const button = el('button', { type: 'button', class: 'btn btn-outline-light btn-touch', 'data-measure': name,
        'aria-pressed': name === this.measure ? 'true' : 'false', text: text_ });
      button.addEventListener('click', () => this.choose(name));
      return button;
    }));
    this.renderHead(measures);
    const rows = this.rows();
    this.caption.textContent = rows.length
      ? `The ${rows.length} worst of ${Number(this.document.ports || 0).toLocaleString()} WAN ports by ${by}`
        + `${this.reversed ? ' (least bad first)' : ''} · tap a row to open its gateway`
      : NONE[this.measure] || `No WAN port reports ${by} now.`;
    this.body.replaceChildren(...rows.map((row) => this.row(row, measures)));
  }

  renderHead(measures) {
    const header = (key, textLabel, extra = '') => {
      const active = this.textSort ? this.textSort.key === key : this.measure === key;
      const th = el('th', { scope: 'col', class: `col-${key}${extra}`, 'data-sort': key });
      if (active) {
        const ascending = this.textSort ? this.textSort.dir > 0 : this.reversed;
        th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      }
      const button = el('button', { type: 'button', class: 'sort-button' }, textLabel, ' ',
        icon(active ? 'arrow-down' : 'arrow-down-up'));
      button.addEventListener('click', () => this.choose(key));
      th.append(button);
      return th;
    };
    this.headRow.replaceChildren(
      el('th', { scope: 'col', class: 'col-rank', text: '#' }),
      ...TEXT_COLUMNS.map(([key, textLabel]) => header(key, textLabel)),
      ...measures.map(([key, textLabel]) => header(key, textLabel, ' col-measure')),
    );
  }

  cell(name, row) {
    const thresholds = this.document.thresholds || {};
    if (['latency', 'jitter', 'loss', 'mos'].includes(name)) return metricNode('td', name, row[name], thresholds);
    if (name === 'score') {
      const bad = typeof row.score === 'number' && row.score >= 1;
      return el('td', { class: `metric${bad ? ' metric-bad' : ''}`, title: row.worst_peer ? `to ${row.worst_peer}` : null },
        row.score === null || row.score === undefined ? '—' : `${row.score.toFixed(2)} ${text(row.worst_metric, '')}`);
    }
    if (name === 'utilisation') {
      const bands = thresholds.utilisation || [];
      const level = row.utilisation >= bands[1] ? 'bad' : row.utilisation >= bands[0] ? 'warn' : '';
      return el('td', { class: `metric${level ? ` metric-${level}` : ''}`, title: `↓ ${formatBits(row.rx_bps)} ↑ ${formatBits(row.tx_bps)}` },
        percent(row.utilisation));
    }
    if (name === 'availability') {
      const bands = thresholds.availability || [];
      const value = row.availability;
      const level = typeof value !== 'number' ? '' : value < bands[1] ? 'bad' : value < bands[0] ? 'warn' : '';
      return el('td', { class: `metric${level ? ` metric-${level}` : ''}`, title: 'Up over the time observed in the last 24 h',
        text: percentText(value) });
    }
    if (name === 'flaps') {
      return el('td', { class: `metric${row.flaps > 0 ? ' metric-warn' : ''}`, title: 'Went down after being up, last 24 h',
        text: text(row.flaps) });
    }
    return el('td', { class: 'metric', text: text(row[name]) });
  }

  row(row, measures) {
    const open = el('button', { type: 'button', class: 'btn btn-link worst-open', 'data-gateway': row.gateway_id,
      'aria-label': `Open gateway ${text(row.gateway, row.gateway_id)}`, title: text(row.gateway, row.gateway_id) },
    text(row.gateway, row.gateway_id));
    const tr = el('tr', { class: `worst-row${row.degraded ? ' degraded' : ''}`, 'data-gateway': row.gateway_id, 'data-port': row.port },
      el('td', { class: 'col-rank', text: String(row.rank) }),
      el('td', { class: 'col-gateway' }, open, el('span', { class: 'worst-site', title: text(row.site, ''), text: text(row.site, '') })),
      el('td', { class: 'col-port' }, el('span', { class: 'port-id', text: text(row.port) }),
        row.wan_name ? el('span', { class: 'worst-site', title: row.wan_name, text: row.wan_name }) : null),
      el('td', { class: 'col-isp', title: text(row.isp), text: text(row.isp) }),
      ...measures.map(([name]) => {
        const td = this.cell(name, row);
        td.classList.add(`col-${name}`);
        return td;
      }));
    tr.addEventListener('click', (event) => {
      if (event.target.closest('a')) return;
      this.onOpen(row.gateway_id);
    });
    return tr;
  }
}
