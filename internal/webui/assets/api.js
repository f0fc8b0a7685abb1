// The API as the page calls it: JSON routes relative to the page (so that a
// reverse proxy may serve bsc under a prefix), the bearer token when the
// server asks for one, and the server's clock.

const tokenKey = 'bsc-api-token';

// apiBase is /api/v1/ beside /ui/.
export const apiBase = new URL('../api/v1/', document.baseURI);

let clockOffset = 0; // the server's clock minus ours, in ms

// serverNow is the server's time now, as its Date headers tell it (to the
// second): lists filtered by time are asked in the server's time.
export function serverNow() { return new Date(Date.now() + clockOffset); }

// ApiError is an answer other than 2xx: status, the problem's code and
// detail, and Retry-After in seconds when the server sent one.
export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code || '';
    this.retryAfter = Number(retryAfter) || 0;
  }
}

// api sends one request and answers its JSON body (null when none). A 401
// asks for the token (once) and tries again with it.
export async function api(path, { method = 'GET', body } = {}) {
  for (let asked = false; ; asked = true) {
    const headers = { Accept: 'application/json' };
    const token = sessionStorage.getItem(tokenKey);
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(new URL(path, apiBase), init);
    } catch (err) {
      throw new ApiError(0, { detail: `the server does not answer (${err.message})` });
    }
    const date = Date.parse(res.headers.get('Date') || '');
    if (!Number.isNaN(date)) clockOffset = date + 500 - Date.now(); // Date is to the second
    if (res.status === 401 && !asked && await askToken('This server needs its API token for that.')) continue;
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!res.ok) throw new ApiError(res.status, data, res.headers.get('Retry-After'));
    return data;
  }
}

// processPath is the path of a process's routes: its name is one path
// segment, a cell process's slash (cell:3/frequency) encoded.
export function processPath(name) { return `processes/${encodeURIComponent(name)}`; }

let asking = null; // the open dialog's answer, shared by whoever asks meanwhile

// askToken opens the token dialog and answers whether a token was given.
// The token is kept in sessionStorage: this tab only, gone when it closes.
export function askToken(why) {
  if (asking) return asking;
  const dialog = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  const form = document.getElementById('token-form');
  document.getElementById('token-why').textContent = `${why || ''} It is kept in this browser tab only (session storage) and sent to this server alone.`.trim();
  input.value = sessionStorage.getItem(tokenKey) || '';
  asking = new Promise((resolve) => {
    const done = (given) => {
      form.removeEventListener('submit', save);
      document.getElementById('token-cancel').removeEventListener('click', cancel);
      document.getElementById('token-forget').removeEventListener('click', forgetIt);
      dialog.removeEventListener('cancel', cancel);
      if (dialog.open) dialog.close();
      asking = null;
      updateTokenButton();
      resolve(given);
    };
    const save = (e) => {
      e.preventDefault();
      const t = input.value.trim();
      if (t) sessionStorage.setItem(tokenKey, t);
      done(Boolean(t));
    };
    const cancel = (e) => { e.preventDefault(); done(false); };
    const forgetIt = () => { sessionStorage.removeItem(tokenKey); done(false); };
    form.addEventListener('submit', save);
    document.getElementById('token-cancel').addEventListener('click', cancel);
    document.getElementById('token-forget').addEventListener('click', forgetIt);
    dialog.addEventListener('cancel', cancel);
    dialog.showModal();
    input.focus();
  });
  return asking;
}

// updateTokenButton says on the header's button whether a token is kept.
export function updateTokenButton() {
  const b = document.getElementById('token-button');
  const has = Boolean(sessionStorage.getItem(tokenKey));
  b.textContent = has ? 'API token: set' : 'API token';
  b.dataset.token = has ? 'set' : 'none';
}
