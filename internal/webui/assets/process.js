// The process view, the book's sys module: GET /api/v1/processes/{name}
// (status, message counts, state, last events), the trace switch, and with
// fault injection a crash button.

import { api, processPath } from './api.js';
import { h, show, forget, announce, badge, when } from './dom.js';

// showProcess shows name's introspection in #process-view; null name shows
// the hint. refresh is called after an action, to show its effect at once.
export async function showProcess(name, refresh) {
  const view = document.getElementById('process-view');
  view.dataset.process = name || '';
  if (!name) {
    show(view, null, () => h('p', { class: 'note' }, 'No process chosen: pick one in the supervision tree, or a phone’s number.'));
    return;
  }
  let info = null;
  let status = '';
  try {
    info = await api(processPath(name));
    status = info.status;
  } catch (err) {
    if (err.status !== 404 && err.status !== 503) throw err;
    status = err.status === 404 ? 'gone' : 'restarting';
  }
  if (view.dataset.process !== name) return; // another was chosen meanwhile
  view.dataset.status = status;
  view.dataset.trace = info ? String(info.trace) : '';
  const why = status === 'gone' ? 'not running: it ended, or the phone detached' : 'restarting: its supervisor starts it again';
  show(view, { name, info, status }, () => [
    h('h3', { class: 'proc-title' }, name, ' ', badge(status)),
    info ? details(info, refresh) : h('p', { class: 'note' }, `${name} is ${why}.`),
  ]);
}

function details(info, refresh) {
  return [
    h('dl', { class: 'facts' },
      h('dt', {}, 'Started'), h('dd', {}, when(info.started_at)),
      h('dt', {}, 'Messages in'), h('dd', { id: 'process-in' }, info.messages_in),
      h('dt', {}, 'Messages out'), h('dd', { id: 'process-out' }, info.messages_out),
      h('dt', {}, 'State'), h('dd', { id: 'process-state' }, h('code', {}, info.state))),
    h('div', { class: 'actions' },
      h('button', {
        type: 'button', id: 'trace-toggle', 'aria-pressed': String(info.trace), dataset: { key: 'trace' },
        title: 'While on, the server logs every message this process handles',
        onclick: () => act(info.name, 'trace', { method: 'PUT', body: { enabled: !info.trace } },
          `${info.name}: tracing ${info.trace ? 'off' : 'on'}`, refresh),
      }, `Trace: ${info.trace ? 'on' : 'off'}`),
      info.crashable && h('button', {
        type: 'button', id: 'crash-button', class: 'danger', dataset: { key: 'crash' },
        title: 'Make this process panic: its supervisor restarts it (fault injection)',
        onclick: () => act(info.name, ':crash', { method: 'POST' }, `${info.name} crashed on request`, refresh),
      }, `Crash ${info.name}`)),
    h('h4', {}, 'Last events'),
    info.log.length
      ? h('ol', { id: 'process-log', class: 'log' }, [...info.log].reverse().map((e) => h('li', {},
        when(e.at), ' ', h('strong', {}, e.event), e.detail ? ` ${e.detail}` : '')))
      : h('p', { class: 'note' }, 'No event handled yet.'),
  ];
}

// act sends an action on the process (trace: its /trace route; :crash: its
// custom method) and shows what came of it.
async function act(name, what, init, done, refresh) {
  const path = what === 'trace' ? `${processPath(name)}/trace` : `${processPath(name)}${what}`;
  try {
    await api(path, init);
    announce(done, what === ':crash' ? 'crash' : 'info');
    forget(document.getElementById('process-view'));
  } catch (err) {
    // Told in the activity log: the panel's error line is the next look's.
    announce(`${name}: ${what === ':crash' ? 'the crash' : 'the trace switch'} was refused: ${err.message}`, 'error');
  }
  refresh();
}
