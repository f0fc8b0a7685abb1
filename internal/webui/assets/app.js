// The observer's page: every few seconds one look at the JSON routes (no
// look begins before the last one ended), sooner when the event stream
// says a phone's device got a reply, none while the tab is hidden.

import { api, ApiError, askToken, updateTokenButton } from './api.js';
import { h, announce, clock, panelError } from './dom.js';
import { openStream } from './stream.js';
import { showTree } from './tree.js';
import { showProcess } from './process.js';
import { showCluster } from './cluster.js';
import { loadPhones, showPhones, wireSearch } from './phones.js';
import { loadCalls, showCalls } from './calls.js';
import { showFrequencies } from './frequencies.js';
import { loadHistory, showAlarms, showHistory, showHandlers } from './alarms.js';

const interval = 2000; // ms between looks
const soonDelay = 150; // ms from a reply to the look it triggers
const maxReplies = 40;
const replyDelay = 250; // ms between drawings of the replies

let selected = null; // the process the process view shows
let timer = 0;
let looking = false;
let lookAgain = false;

// The panels, each filled from its own reads: one failing leaves the
// others be, and says why in its own panel.
const panels = [
  ['supervision', async () => showTree(await api('supervision'), selected, select)],
  ['cluster', async () => showCluster(await api('cluster'))],
  ['process', () => showProcess(selected, soon)],
  ['phones', async () => showPhones(await loadPhones(), select, soon)],
  ['calls', async () => showCalls(await loadCalls())],
  ['frequencies', async () => showFrequencies(await api('frequencies'))],
  ['alarms', async () => {
    const [active, past] = await Promise.all([api('alarms'), loadHistory()]);
    showAlarms(active.items);
    showHistory(past);
  }],
  ['overload', async () => showHandlers(await api('overload/handlers'))],
];

async function look() {
  clearTimeout(timer);
  if (looking) {
    lookAgain = true;
    return;
  }
  looking = true;
  let wait = interval;
  await Promise.all(panels.map(async ([id, fill]) => {
    try {
      await fill();
      panelError(id, null);
    } catch (err) {
      panelError(id, err.status === 503 ? `Unavailable for now: ${err.message}` : err.message);
      wait = Math.max(wait, (err.retryAfter || 0) * 1000);
      // An answer the page could not draw is a fault of the page: thrown
      // on, it reaches the console as one (and fails the browser tests).
      if (!(err instanceof ApiError)) setTimeout(() => { throw err; });
    }
  }));
  document.body.dataset.looked = clock(new Date());
  looking = false;
  if (document.hidden) return;
  timer = setTimeout(look, lookAgain ? 0 : wait);
  lookAgain = false;
}

let soonTimer = 0;

// soon looks again shortly: after an action, or a reply from a device.
function soon() {
  clearTimeout(soonTimer);
  soonTimer = setTimeout(look, soonDelay);
}

// select opens a process in the process view.
function select(name) {
  selected = name;
  soon();
  document.getElementById('process').scrollIntoView({ block: 'nearest' });
}

// Replies are drawn a few times a second at most, the latest maxReplies
// of them: under load thousands arrive each second.
let replies = [];
let drawTimer = 0;

function showReply(r) {
  replies.push(r);
  if (replies.length > maxReplies) replies = replies.slice(-maxReplies);
  if (!drawTimer) drawTimer = setTimeout(drawReplies, replyDelay);
}

function drawReplies() {
  drawTimer = 0;
  const log = document.getElementById('replies');
  log.prepend(...replies.reverse().map((r) => h('li', { dataset: { seq: r.seq, msisdn: r.msisdn, type: r.type } },
    h('time', { datetime: r.at }, clock(r.at)), ' ', h('strong', {}, r.msisdn), ` got ${r.type.replace('_', ' ')}`,
    r.from ? ` from ${r.from}` : '')));
  replies = [];
  while (log.children.length > maxReplies) log.lastElementChild.remove();
}

function liveState(state, detail) {
  const live = document.getElementById('live');
  live.dataset.state = state;
  const words = { connecting: 'connecting…', open: 'live', reconnecting: 'reconnecting…', closed: 'stream closed' };
  live.textContent = words[state] || state;
  live.title = detail || (state === 'open' ? 'The phones’ replies arrive as they happen' : '');
}

function start() {
  updateTokenButton();
  document.getElementById('token-button').addEventListener('click', () => askToken(''));
  wireSearch(soon);
  openStream({
    onReply: (r) => { showReply(r); soon(); },
    onLost: (lost) => announce(`the event stream lost replies (${lost.reason}); the lists are read again`, 'warning'),
    onState: liveState,
  });
  document.addEventListener('visibilitychange', () => { if (!document.hidden) look(); });
  api('version').then((v) => {
    document.getElementById('server').title = `bsc ${v.version} (${v.commit}), ${v.go}`;
  }).catch(() => {});
  look();
}

start();
