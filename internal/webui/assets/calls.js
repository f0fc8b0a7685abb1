// The latest call records (GET /api/v1/calls). The list runs oldest first,
// so the latest are read as the records set up since a moment: a window
// back from the server's now, narrowed while it holds more than a page and
// widened while it holds too few to show.

import { api, serverNow } from './api.js';
import { h, show, badge, when } from './dom.js';

const shown = 15; // records shown
const page = 1000; // records read per request
const minWindow = 1; // seconds
const maxWindow = 30 * 86400;
let windowSeconds = 600;

// loadCalls reads the latest records, in at most four requests.
export async function loadCalls() {
  let items = [];
  for (let tries = 0; tries < 4; tries++) {
    const since = windowSeconds >= maxWindow ? '' : `&since=${new Date(serverNow() - windowSeconds * 1000).toISOString()}`;
    const list = await api(`calls?limit=${page}${since}`);
    items = list.items;
    if (list.next && windowSeconds > minWindow) {
      windowSeconds = Math.max(minWindow, windowSeconds / 10); // more than a page: look closer
    } else if (!list.next && items.length < shown && windowSeconds < maxWindow) {
      windowSeconds = Math.min(maxWindow, windowSeconds * 30); // too few: look further back
    } else {
      break;
    }
  }
  return items.slice(-shown).reverse();
}

// showCalls shows the records in #call-records, newest first.
export function showCalls(records) {
  const cluster = records.some((r) => r.cell !== undefined);
  show(document.getElementById('call-records'), records, () => records.length
    ? h('table', { id: 'call-list', class: 'grid' },
      h('caption', { class: 'visually-hidden' }, 'Latest call records, newest first'),
      h('thead', {}, h('tr', {}, ['Ended', 'Caller', 'Callee', 'Outcome', 'Ended by', 'Frequency', 'Talk', ...(cluster ? ['Cell'] : [])]
        .map((c, i) => h('th', { scope: 'col', class: i >= 4 ? 'opt' : null }, c)))),
      h('tbody', {}, records.map((r) => h('tr', {
        dataset: { callId: r.id, caller: r.caller, callee: r.callee, outcome: r.outcome, frequency: r.frequency },
      },
      h('td', {}, when(r.ended_at)), h('td', {}, r.caller), h('td', {}, r.callee), h('td', {}, badge(r.outcome)),
      h('td', { class: 'opt' }, r.ended_by), h('td', { class: 'opt' }, r.frequency ?? '—'),
      h('td', { class: 'opt' }, talk(r)), cluster ? h('td', { class: 'opt' }, r.cell) : null))))
    : h('p', { class: 'note' }, 'No call recorded yet.'));
}

// talk is how long the parties talked: from the answer to the end.
function talk(r) {
  if (!r.answered_at) return '—';
  const ms = Date.parse(r.ended_at) - Date.parse(r.answered_at);
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
