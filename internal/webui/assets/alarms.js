// Active alarms, their history and the overload manager's handlers (GET
// /api/v1/alarms, /alarms/history, /overload/handlers).

import { api } from './api.js';
import { h, show, announce, badge, when } from './dom.js';

const historyShown = 15;
const page = 1000;
const maxPages = 5; // history pages read per look, to catch up a long one

// The history is read forward from the start, a page per request; where
// the last page was not full, the next look asks again from the same
// cursor (opaque: never made here), getting that page with what came since.
const past = { after: '', items: [], tail: [] };
let activeSeen = null; // alarm keys at the last look

export async function loadHistory() {
  for (let i = 0; i < maxPages; i++) {
    const list = await api(`alarms/history?limit=${page}${past.after ? `&after=${encodeURIComponent(past.after)}` : ''}`);
    if (!list.next) {
      past.tail = list.items; // the last page, read again next time
      break;
    }
    past.items = [...past.items, ...list.items].slice(-historyShown);
    past.after = list.next;
    past.tail = [];
  }
  // Newest first.
  return [...past.items, ...past.tail].sort((a, b) => Date.parse(b.at) - Date.parse(a.at)).slice(0, historyShown);
}

const key = (a) => `${a.id}@${a.source}${a.cell !== undefined ? `#${a.cell}` : ''}`;

export function showAlarms(active) {
  const now = new Set(active.map(key));
  if (activeSeen) {
    for (const a of active) if (!activeSeen.has(key(a))) announce(`alarm ${a.id} raised (${a.severity}): ${a.description}`, 'alarm');
    for (const k of activeSeen) if (!now.has(k)) announce(`alarm ${k.split('@')[0]} cleared`, 'alarm');
  }
  activeSeen = now;
  show(document.getElementById('alarms-active'), active, () => active.length
    ? h('ul', { id: 'alarm-list', class: 'alarms' }, active.map((a) => h('li', {
      dataset: { alarm: a.id, severity: a.severity, source: a.source, cell: a.cell },
    },
    badge(a.severity), ' ', h('strong', {}, a.id), ' ', h('span', { class: 'fact' }, a.source),
    a.cell !== undefined ? h('span', { class: 'fact' }, `cell ${a.cell}`) : null,
    h('span', { class: 'fact' }, 'since ', when(a.raised_at)),
    a.description ? h('div', { class: 'note' }, a.description) : null)))
    : h('p', { class: 'note', id: 'no-alarm' }, 'No active alarm.'));
}

export function showHistory(items) {
  const cluster = items.some((a) => a.cell !== undefined);
  show(document.getElementById('alarm-history'), items, () => items.length
    ? h('table', { id: 'alarm-history-list', class: 'grid' },
      h('caption', { class: 'visually-hidden' }, 'Alarm history, newest first'),
      h('thead', {}, h('tr', {}, ['At', 'Alarm', 'Action', 'Source', ...(cluster ? ['Cell'] : [])]
        .map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, items.map((a) => h('tr', { dataset: { alarm: a.id, action: a.action, cell: a.cell } },
        h('td', {}, when(a.at)), h('td', {}, a.id), h('td', {}, badge(a.action)), h('td', {}, a.source || ''),
        cluster ? h('td', {}, a.cell) : null))))
    : h('p', { class: 'note' }, 'No alarm set or cleared yet.'));
}

// showHandlers shows the handlers, grouping the cells that have the same.
export function showHandlers(view) {
  const cells = view.cells || [{ ...view, cell: undefined }];
  const groups = new Map();
  for (const c of cells) {
    const items = c.error ? null : c.items || [];
    const k = JSON.stringify(items); // the cells not served now form a group of their own
    if (!groups.has(k)) groups.set(k, { items, cells: [] });
    if (c.cell !== undefined) groups.get(k).cells.push(c.cell);
  }
  show(document.getElementById('handlers'), [...groups.values()], (gs) => gs.map((g) => h('div', { class: 'handler-group' },
    g.cells.length ? h('div', { class: 'note' }, `${g.cells.length === 1 ? 'Cell' : 'Cells'} ${g.cells.join(', ')}` +
      (g.items ? '' : ': not served now')) : null,
    g.items && h('ul', { class: 'handlers' }, g.items.map((it) => h('li', { dataset: { handler: it.name, target: it.target } },
      h('strong', {}, it.name), it.target ? h('span', { class: 'fact' }, ` → ${it.target}`) : null))))));
}
