// The nodes and who owns each cell (GET /api/v1/cluster): a single node
// shows itself and its one cell.

import { h, show, announce, badge, when, plural } from './dom.js';

let before = null; // the last look: node states and cell owners

// showCluster shows the cluster in #cluster-view and the header's line,
// and tells in the activity log what moved since the last look.
export function showCluster(c) {
  const single = c.mode === 'single';
  const server = document.getElementById('server');
  server.dataset.node = c.node;
  server.dataset.mode = c.mode;
  server.textContent = single
    ? `node ${c.node} · single node`
    : `node ${c.node} · cluster (${c.mode}) of ${plural(c.nodes.length, 'node')} · ${plural(c.cells, 'cell')}`;
  document.getElementById('cluster-title').textContent = single ? 'Node and cell' : 'Nodes and cells';
  document.getElementById('supervision-title').textContent = single ? 'Supervision tree' : `Supervision tree of node ${c.node}`;
  // A cluster node's stream of replies is its own cells' (docs/cluster.md).
  document.getElementById('replies-note').textContent = single
    ? '(live event stream)' : `(live event stream: the phones of node ${c.node}’s cells)`;
  tellChanges(c);
  const owners = c.cell_owners || [];
  show(document.getElementById('cluster-view'), c, () => [
    h('ul', { id: 'cluster-nodes', class: 'nodes' }, c.nodes.map((n) => h('li', {
      dataset: { node: n.name, state: n.state, cells: (n.cells || []).join(' ') },
    },
    h('div', { class: 'node-head' }, h('strong', {}, n.name), n.name === c.node ? h('span', { class: 'note' }, ' (this page’s node)') : '', ' ', badge(n.state)),
    h('div', { class: 'cells' }, (n.cells || []).length
      ? n.cells.map((cell) => h('span', { class: 'cell-chip', dataset: { cell } }, `cell ${cell}`))
      : h('span', { class: 'note' }, 'no cell')),
    n.last_seen && !single ? h('div', { class: 'note' }, 'last seen ', when(n.last_seen)) : null))),
    single ? null : h('table', { id: 'cell-owners', class: 'grid' },
      h('caption', {}, 'Owner of each cell'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Cell'), h('th', { scope: 'col' }, 'Owner'),
        h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col', class: 'opt' }, 'Preferred'), h('th', { scope: 'col', class: 'opt' }, 'Epoch'))),
      h('tbody', {}, owners.map((o) => h('tr', {
        class: o.owner && o.owner !== o.preferred ? 'away' : null,
        dataset: { cell: o.cell, owner: o.owner || '', state: o.state, preferred: o.preferred },
      },
      h('td', {}, o.cell), h('td', {}, o.owner || '—'), h('td', {}, badge(o.state)),
      h('td', { class: 'opt' }, o.preferred), h('td', { class: 'opt' }, o.epoch))))),
  ]);
}

function tellChanges(c) {
  const now = {
    nodes: new Map(c.nodes.map((n) => [n.name, n.state])),
    owners: new Map((c.cell_owners || []).map((o) => [o.cell, o.owner || ''])),
  };
  if (before) {
    for (const [name, state] of now.nodes) {
      const was = before.nodes.get(name);
      if (was !== undefined && was !== state) announce(`node ${name} is ${state} (was ${was})`, 'node');
    }
    for (const [cell, owner] of now.owners) {
      const was = before.owners.get(cell);
      if (was !== undefined && was !== owner) {
        announce(`cell ${cell} moved: ${was || 'no owner'} → ${owner || 'no owner'}`, 'cell');
      }
    }
  }
  before = now;
}
