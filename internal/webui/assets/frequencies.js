// The frequency pool (GET /api/v1/frequencies): each frequency free,
// allocated (to whom) or blocked, per cell in a cluster.

import { h, show } from './dom.js';

// showFrequencies shows view, a single node's answer or a cluster's
// {"cells": [...]}, in #freq-pool.
export function showFrequencies(view) {
  const cells = view.cells || [{ ...view, cell: undefined }];
  show(document.getElementById('freq-pool'), cells, () => [view.cells ? total(cells) : null, ...cells.map((c) => {
    if (c.error) return unserved(c);
    const owner = new Map((c.allocated || []).map((a) => [a.frequency, a.owner]));
    const blocked = new Set(c.blocked || []);
    const summary = `${c.free.length} free · ${owner.size} allocated · ${blocked.size} blocked`;
    return h('div', { class: 'pool', dataset: { cell: c.cell ?? 0, cellNamed: c.cell !== undefined ? '' : null }, title: summary },
      h('div', { class: 'pool-head' },
        c.cell !== undefined ? h('strong', {}, `Cell ${c.cell}`) : null,
        h('span', { class: 'note' }, summary)),
      h('ul', { class: 'freqs' }, c.pool.map((f) => {
        const status = owner.has(f) ? 'allocated' : blocked.has(f) ? 'blocked' : 'free';
        const who = owner.get(f);
        return h('li', {
          class: 'freq', dataset: { frequency: f, status, owner: who },
          title: status === 'allocated' ? `${f}: allocated to ${who}` : `${f}: ${status}`,
        }, h('span', { class: 'freq-number' }, f),
        who ? h('span', { class: 'freq-owner' }, who.replace(/^msisdn:/, '')) : null,
        h('span', { class: 'visually-hidden' }, ` ${status}`));
      })));
  })]);
}

// unserved is a cell whose answer is an error: it has no owner this
// moment (a node failed, or the cell is moving), or its owner is busy.
function unserved(c) {
  return h('div', { class: 'pool', dataset: { cell: c.cell, status: 'unserved' } },
    h('div', { class: 'pool-head' }, h('strong', {}, `Cell ${c.cell}`),
      h('span', { class: 'note' }, `not served now: ${c.error.detail || c.error.title || 'no answer'}`)));
}

// total sums the cells' pools, for a cluster, whose cells show a line each.
function total(cells) {
  const n = (k) => cells.reduce((sum, c) => sum + (c[k] || []).length, 0);
  const unserved = cells.filter((c) => c.error).length;
  return h('p', { class: 'note', id: 'freq-total' },
    `${cells.length} cells: ${n('free')} free · ${n('allocated')} allocated · ${n('blocked')} blocked` +
    (unserved ? ` · ${unserved} not served now` : ''));
}
