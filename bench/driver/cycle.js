// k6's side of bench/driver/compare.sh: the requests of bench/driver/targets
// (call -> accept -> hangup cycles over pairs of phones, 4690000000 + 2i
// calling 4690000000 + 2i + 1), one per iteration at a constant arrival rate
// of RATE requests per second, so that the accept comes HOLD_MS after the
// call and the hangup HOLD_MS after the accept. Slots whose cycle has not
// started yet (the first ones of the accept and hangup steps) send nothing.
//
//   BASE=http://127.0.0.1:18280 PAIRS=500 RATE=3000 HOLD_MS=166 SECS=20 k6 run bench/driver/cycle.js
import http from 'k6/http';
import exec from 'k6/execution';

const base = __ENV.BASE || 'http://127.0.0.1:18280';
const pairs = Number(__ENV.PAIRS || 500);
const rate = Number(__ENV.RATE || 3000);
const holdMs = Number(__ENV.HOLD_MS || 166);
const secs = Number(__ENV.SECS || 20);
// Slot k carries step k % 3 of cycle k / 3 - (k % 3) * h: a cycle's steps
// are 3h slots, HOLD_MS, apart (as targets/main.go).
const h = Math.floor((holdMs / 1000) * rate / 3);

export const options = {
  scenarios: {
    cycles: {
      executor: 'constant-arrival-rate',
      rate: rate,
      timeUnit: '1s',
      duration: `${secs}s`,
      preAllocatedVUs: 200,
      maxVUs: 2000,
    },
  },
  discardResponseBodies: true,
  summaryTrendStats: ['min', 'med', 'p(90)', 'p(99)', 'max'],
};

const params = { headers: { 'Content-Type': 'application/json' } };
const actions = (m) => `${base}/api/v1/phones/${m}/actions`;

export default function () {
  const k = exec.scenario.iterationInTest;
  const step = k % 3;
  const c = Math.floor(k / 3) - step * h;
  if (c < 0) {
    return;
  }
  const caller = 4690000000 + 2 * (c % pairs);
  const callee = caller + 1;
  if (step === 0) {
    http.post(actions(caller), JSON.stringify({ action: 'call', to: String(callee) }), params);
  } else if (step === 1) {
    http.post(actions(callee), '{"action":"accept"}', params);
  } else {
    http.post(actions(caller), '{"action":"hangup"}', params);
  }
}
