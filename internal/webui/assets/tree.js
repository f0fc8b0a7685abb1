// The supervision tree (GET /api/v1/supervision): one item per process,
// with its strategy, restart type, state and restarts. A process's path
// below the top supervisor is its API name: frequency on a single node,
// cell:3/frequency on a cluster node.

import { h, show, announce, badge, plural } from './dom.js';

// inspectable are the processes GET /api/v1/processes/{name} knows in a
// cell.
const inspectable = new Set(['overload', 'frequency', 'phones']);

const restartsSeen = new Map(); // path -> restarts at the last look
let changed = new Set(); // paths whose restarts grew at the last look
// folded are the subtrees shown closed: the reader's choice, or at first
// a cluster node's cells when it runs more than two (the tree would be
// long). A closed subtree says how many restarts it holds.
const folded = new Set();
const toggled = new Set(); // subtrees the reader opened or closed
let redraw = () => {};

// showTree shows tree in #tree; onSelect(name) opens a process.
export function showTree(tree, selected, onSelect) {
  redraw = () => showTree(tree, selected, onSelect);
  changed = new Set();
  const cells = (tree.children || []).filter((c) => c.name.startsWith('cell:'));
  for (const c of cells) {
    if (!toggled.has(c.name)) {
      if (cells.length > 2) folded.add(c.name); else folded.delete(c.name);
    }
  }
  const first = restartsSeen.size === 0;
  walk(tree, '', (n, path) => {
    const before = restartsSeen.get(path);
    if (!first && before !== undefined && n.restarts > before) {
      changed.add(path);
      announce(`${path || n.name} restarted: ${plural(n.restarts, 'restart')} so far`, 'restart');
    }
    restartsSeen.set(path, n.restarts);
  });
  show(document.getElementById('tree'), { tree, selected, changed: [...changed], folded: [...folded] },
    () => h('ul', { class: 'tree-root' }, item(tree, '', selected, onSelect)));
}

function walk(n, path, fn) {
  fn(n, path);
  for (const c of n.children || []) walk(c, path ? `${path}/${c.name}` : c.name, fn);
}

function item(n, path, selected, onSelect) {
  const canInspect = path !== '' && inspectable.has(n.name);
  const label = canInspect
    ? h('button', {
      type: 'button', class: 'proc', 'aria-pressed': String(selected === path), dataset: { key: `tree:${path}` },
      title: `Inspect ${path}`, onclick: () => onSelect(path),
    }, n.name)
    : h('span', { class: 'proc-name' }, n.name);
  // What it is, in words: kind, restart type, strategy and intensity, children.
  const about = [
    n.kind,
    n.restart,
    n.strategy && (n.max_restarts ? `${n.strategy}, at most ${plural(n.max_restarts, 'restart')} in ${n.max_seconds} s` : n.strategy),
    n.count !== undefined && plural(n.count, 'child', 'children'),
  ].filter(Boolean).join(' · ');
  const closed = folded.has(path);
  const fold = n.children?.length && path !== ''
    ? h('button', {
      type: 'button', class: 'fold', 'aria-expanded': String(!closed), dataset: { key: `fold:${path}` },
      'aria-label': `${closed ? 'Open' : 'Close'} ${path}`,
      onclick: () => {
        toggled.add(path);
        if (closed) folded.delete(path); else folded.add(path);
        redraw();
      },
    }, closed ? '▸' : '▾')
    : null;
  const inside = closed ? below(n) : 0;
  return h('li', {
    class: changed.has(path) ? 'changed' : null,
    dataset: {
      path, name: n.name, kind: n.kind, state: n.state, restarts: n.restarts,
      strategy: n.strategy, count: n.count,
    },
  },
  h('div', { class: 'tree-row' },
    h('div', { class: 'tree-main' }, fold, label, badge(n.state),
      h('span', { class: 'restarts', title: 'restarts since it started' }, `↻ ${plural(n.restarts, 'restart')}`),
      inside ? h('span', { class: 'restarts inside', title: 'restarts of the processes below it' }, `(${inside} below)`) : null),
    h('div', { class: 'tree-about' }, about)),
  n.children?.length
    ? h('ul', { hidden: closed }, n.children.map((c) => item(c, path ? `${path}/${c.name}` : c.name, selected, onSelect)))
    : null);
}

// below is how many restarts the processes under n have had.
function below(n) {
  return (n.children || []).reduce((sum, c) => sum + c.restarts + below(c), 0);
}
