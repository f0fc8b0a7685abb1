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

// showTree shows tree in #tree; onSelect(name) opens a process.
export function showTree(tree, selected, onSelect) {
  changed = new Set();
  const first = restartsSeen.size === 0;
  walk(tree, '', (n, path) => {
    const before = restartsSeen.get(path);
    if (!first && before !== undefined && n.restarts > before) {
      changed.add(path);
      announce(`${path || n.name} restarted: ${plural(n.restarts, 'restart')} so far`, 'restart');
    }
    restartsSeen.set(path, n.restarts);
  });
  show(document.getElementById('tree'), { tree, selected, changed: [...changed] },
    () => h('ul', { class: 'tree-root' }, item(tree, '', selected, onSelect)));
}

function walk(n, path, fn) {
  fn(n, path);
  for (const c of n.children || []) walk(c, path ? `${path}/${c.name}` : c.name, fn);
}

function item(n, path, selected, onSelect) {
  const name = path;
  const canInspect = path !== '' && inspectable.has(n.name);
  const label = canInspect
    ? h('button', {
      type: 'button', class: 'proc', 'aria-pressed': String(selected === name), dataset: { key: `tree:${name}` },
      onclick: () => onSelect(name),
    }, n.name)
    : h('span', { class: 'proc-name' }, n.name);
  const facts = [
    badge(n.kind),
    n.strategy && h('span', { class: 'fact', title: 'restart strategy and intensity' },
      n.strategy, n.max_restarts ? ` ${n.max_restarts} in ${n.max_seconds} s` : ''),
    n.restart && h('span', { class: 'fact', title: 'restart type' }, n.restart),
    badge(n.state),
    h('span', { class: 'fact restarts', title: 'restarts since it started' }, plural(n.restarts, 'restart')),
    n.count !== undefined && h('span', { class: 'fact' }, plural(n.count, 'child', 'children')),
  ];
  return h('li', {
    class: changed.has(path) ? 'changed' : null,
    dataset: {
      path, name: n.name, kind: n.kind, state: n.state, restarts: n.restarts,
      strategy: n.strategy, count: n.count,
    },
  },
  h('div', { class: 'tree-row' }, label, ' ', facts),
  n.children?.length ? h('ul', {}, n.children.map((c) => item(c, path ? `${path}/${c.name}` : c.name, selected, onSelect))) : null);
}
