// The page's one event stream: GET /api/v1/events, every phone's replies.
// The browser reconnects by itself after a cut, sending Last-Event-ID; when
// the server refuses the stream (503 while overloaded or stopping) the
// browser gives up, and we open it again later, resuming with ?after=.

import { apiBase } from './api.js';

const replyTypes = ['inbound', 'accepted', 'rejected', 'busy', 'invalid', 'hangup', 'no_frequency'];
const maxDelay = 30000;

// openStream calls onReply(reply) for each reply, onLost(lost) when the
// server says some are gone, and onState(state, detail) as the stream
// opens ('open'), is cut ('reconnecting') or waits to be opened again
// ('closed').
export function openStream({ onReply, onLost, onState }) {
  let lastId = '';
  let delay = 1000;
  const connect = () => {
    const url = new URL('events', apiBase);
    if (lastId) url.searchParams.set('after', lastId);
    const es = new EventSource(url);
    onState('connecting');
    es.addEventListener('open', () => { delay = 1000; onState('open'); });
    const seen = (e) => { if (e.lastEventId) lastId = e.lastEventId; };
    for (const type of replyTypes) {
      es.addEventListener(type, (e) => { seen(e); onReply(JSON.parse(e.data)); });
    }
    es.addEventListener('lost', (e) => { seen(e); onLost(JSON.parse(e.data)); });
    es.addEventListener('error', (e) => {
      if (e.data) {
        // The server's own error event (a reader too slow): the stream
        // ends and the browser comes back where it left off.
        onState('reconnecting', JSON.parse(e.data).detail);
        return;
      }
      if (es.readyState !== EventSource.CLOSED) {
        onState('reconnecting');
        return;
      }
      es.close();
      onState('closed', `retrying in ${Math.round(delay / 1000)} s`);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, maxDelay);
    });
  };
  connect();
}
