// Building and updating the page: elements from plain values, no framework.

// h makes an element. attrs: "class", "dataset" (an object), "on<event>"
// handlers, and other attributes (true: present, false or null: absent).
// Children are nodes, strings, numbers or (nested) arrays of them; null and
// false are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) {
        if (dv !== undefined && dv !== null) el.dataset[dk] = String(dv);
      }
    } else if (k.startsWith('on')) {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const shown = new WeakMap(); // container -> the data it shows, as JSON

// show replaces what container shows with build(data), unless it already
// shows that data: a quiet system leaves the page alone (the reader's
// place, the keyboard focus, a screen reader's position). The element
// that had the focus gets it back when the new content has its data-key.
export function show(container, data, build) {
  const json = JSON.stringify(data);
  if (shown.get(container) === json) return false;
  shown.set(container, json);
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.key : undefined;
  container.replaceChildren(...[build(data)].flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  if (key) {
    const again = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
  return true;
}

// forget makes the next show of container build again.
export function forget(container) { shown.delete(container); }

const activityLimit = 30;

// announce adds a line to the activity log, which screen readers read out
// (aria-live): what changed while the reader watched.
export function announce(text, kind = 'info') {
  const log = document.getElementById('activity-log');
  const now = new Date();
  log.prepend(h('li', { dataset: { kind } }, h('time', { datetime: now.toISOString() }, clock(now)), ' ', text));
  while (log.children.length > activityLimit) log.lastElementChild.remove();
}

// clock is a time of day, local, to the second.
export function clock(t) {
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

// when is an element showing a time of day, with the full date and time on
// hover and for machines.
export function when(iso) {
  if (!iso) return '';
  return h('time', { datetime: iso, title: new Date(iso).toLocaleString() }, clock(iso));
}

// badge is a short coloured word for a state.
export function badge(word, extra) {
  return h('span', { class: 'badge', dataset: { value: word } }, extra ?? word);
}

// plural is "1 phone", "2 phones".
export function plural(n, one, many = `${one}s`) { return `${n} ${n === 1 ? one : many}`; }

// panelError shows (or, with null, hides) a panel's error line.
export function panelError(panelId, message) {
  const p = document.querySelector(`#${panelId} > .error`);
  if (!p) return;
  p.hidden = !message;
  p.textContent = message || '';
  document.getElementById(panelId).toggleAttribute('data-error', Boolean(message));
}
