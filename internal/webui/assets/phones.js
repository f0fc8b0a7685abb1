// Phones by state, with a search box, and the calls in progress (GET
// /api/v1/phones). Lists are read a bounded page at a time: a server with
// more phones than a page says so rather than being read whole.

import { api } from './api.js';
import { h, show, badge, when, plural } from './dom.js';

export const states = ['idle', 'calling', 'receiving', 'connected'];
const page = 500; // phones read per look
const rows = 100; // phones shown at most

const ui = { filter: 'all', search: '' };

// loadPhones reads what the phones panel shows: a page of every phone,
// and when the server has more than a page, the chosen state's page and
// the phones in a call.
export async function loadPhones() {
  const all = await api(`phones?limit=${page}`);
  const more = Boolean(all.next);
  const [chosen, calling, connected] = await Promise.all([
    ui.filter !== 'all' && more ? api(`phones?state=${ui.filter}&limit=${page}`) : null,
    more ? api(`phones?state=calling&limit=${page}`) : null,
    more ? api(`phones?state=connected&limit=${page}`) : null,
  ]);
  const listed = chosen ? chosen.items : all.items.filter((p) => ui.filter === 'all' || p.state === ui.filter);
  const inCall = more ? [...calling.items, ...connected.items] : all.items;
  // A whole MSISDN searched for, when the page does not hold every phone
  // and not that one, is asked for itself.
  const q = ui.search;
  const found = more && /^\d{1,15}$/.test(q) && !listed.some((p) => p.msisdn === q)
    ? await api(`phones/${q}`).catch(() => null) : null;
  return { all: all.items, more, listed, inCall, found };
}

// showPhones shows the phones panel and the calls in progress;
// onInspect(name) opens a phone's process.
export function showPhones(d, onInspect, rerender) {
  const counts = Object.fromEntries(states.map((s) => [s, 0]));
  for (const p of d.all) counts[p.state] = (counts[p.state] || 0) + 1;
  const plus = d.more ? '+' : '';
  show(document.getElementById('phone-filter'), { counts, plus, filter: ui.filter }, () =>
    ['all', ...states].map((s) => h('button', {
      type: 'button', class: 'chip', 'aria-pressed': String(ui.filter === s), dataset: { key: `filter:${s}`, state: s, count: s === 'all' ? d.all.length : counts[s] },
      onclick: () => { ui.filter = s; rerender(); },
    }, s === 'all' ? 'All' : s, ' ', h('span', { class: 'count' }, `${s === 'all' ? d.all.length : counts[s]}${plus}`))));

  const q = ui.search;
  let list = q ? d.listed.filter((p) => p.msisdn.includes(q)) : d.listed;
  if (q && !list.length && d.found) list = [d.found];
  const cluster = d.all.some((p) => p.cell !== undefined);
  const summary = document.getElementById('phone-summary');
  summary.textContent = summaryText(d, list, q);
  show(document.getElementById('phone-table'), { list: list.slice(0, rows), cluster }, () => list.length
    ? h('table', { id: 'phone-list', class: 'grid' },
      h('caption', { class: 'visually-hidden' }, 'Attached phones'),
      h('thead', {}, h('tr', {}, ['MSISDN', 'State', 'Peer', 'Frequency', 'Since', ...(cluster ? ['Cell', 'Node'] : [])]
        .map((c, i) => h('th', { scope: 'col', class: i >= 4 ? 'opt' : null }, c)))),
      h('tbody', {}, list.slice(0, rows).map((p) => h('tr', {
        dataset: { msisdn: p.msisdn, state: p.state, peer: p.peer, frequency: p.frequency, cell: p.cell },
      },
      h('td', {}, h('button', {
        type: 'button', class: 'link', dataset: { key: `phone:${p.msisdn}` }, title: `Inspect process phone:${p.msisdn}`,
        onclick: () => onInspect(`phone:${p.msisdn}`),
      }, p.msisdn)),
      h('td', {}, badge(p.state)), h('td', {}, p.peer || ''), h('td', {}, p.frequency ?? ''),
      h('td', { class: 'opt' }, when(p.since)),
      cluster ? [h('td', { class: 'opt' }, p.cell), h('td', { class: 'opt' }, p.node)] : null))))
    : h('p', { class: 'note' }, q ? `No attached phone matches “${q}”.` : 'No phone attached.'));
  showCallsInProgress(d.inCall);
}

function summaryText(d, list, q) {
  const shown = Math.min(list.length, rows);
  const of = d.more ? `the first ${page} of more` : `${d.all.length}`;
  const parts = [`${plural(shown, 'phone')} shown, of ${of} attached`];
  if (ui.filter !== 'all') parts.push(`state ${ui.filter}`);
  if (q) parts.push(`matching “${q}”`);
  return `${parts.join(', ')}.`;
}

// calls pairs the phones in a call: the caller is the one calling, or,
// once connected, the one holding the frequency (the caller's cell
// allocates it).
function calls(phones) {
  const byPair = new Map();
  for (const p of phones) {
    if (p.state === 'idle' || !p.peer) continue;
    const key = [p.msisdn, p.peer].sort().join('-');
    const c = byPair.get(key) || { state: p.state === 'connected' ? 'connected' : 'ringing' };
    if (p.state === 'calling' || (p.state === 'connected' && p.frequency !== undefined)) {
      Object.assign(c, { caller: p.msisdn, callee: p.peer, since: p.since });
    } else if (!c.caller) {
      Object.assign(c, { caller: p.peer, callee: p.msisdn, since: p.since });
    }
    if (p.frequency !== undefined) c.frequency = p.frequency;
    if (p.cell !== undefined && p.msisdn === c.caller) c.cell = p.cell;
    byPair.set(key, c);
  }
  return [...byPair.values()].sort((a, b) => a.caller.localeCompare(b.caller));
}

function showCallsInProgress(phones) {
  const list = calls(phones);
  show(document.getElementById('calls-live'), list, () => list.length
    ? h('ul', { id: 'calls-live-list', class: 'calls' }, list.map((c) => h('li', {
      dataset: { caller: c.caller, callee: c.callee, state: c.state, frequency: c.frequency },
    },
    h('span', { class: 'call-parties' }, h('strong', {}, c.caller), ' → ', h('strong', {}, c.callee)), ' ',
    badge(c.state), ' ',
    c.frequency !== undefined ? h('span', { class: 'fact' }, `frequency ${c.frequency}`) : null,
    c.cell !== undefined ? h('span', { class: 'fact' }, `cell ${c.cell}`) : null,
    h('span', { class: 'fact' }, 'since ', when(c.since)))))
    : h('p', { class: 'note' }, 'No call in progress.'));
}

// wireSearch makes the search box filter the list as one types (the
// next look, shortly after the last key).
export function wireSearch(rerender) {
  const input = document.getElementById('phone-search');
  input.addEventListener('input', () => {
    ui.search = input.value.trim();
    rerender();
  });
}
