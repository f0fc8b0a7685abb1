-- wrk script: call -> accept -> hangup cycles, one pair of phones per
-- connection (run wrk with as many threads as connections, -t N -c N, so
-- that each thread's one connection plays its own pair in order). The
-- phones are those `bench/wrk/run.sh` attaches: 4690000000 + 2i (caller)
-- and + 2i + 1 (callee), i from 0.
--
-- A 503 is honoured as a client should: the connection waits Retry-After
-- (seconds) before its next request, and the cycle starts over. With
-- THINK_MS set, every request is followed by that pause, which sets the
-- offered load: connections x 1000 / THINK_MS requests/s at most.

local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  base = 4690000000
  caller = tostring(base + 2 * id)
  callee = tostring(base + 2 * id + 1)
  step = 0
  think = tonumber(os.getenv("THINK_MS") or "0")
  -- The connections' first requests are spread over one pause, not sent
  -- all at once: in step, they would stay a burst every pause.
  math.randomseed(id + 1)
  wait_ms = math.random(0, think)
  hdr = { ["Content-Type"] = "application/json" }
end

function request()
  local who, body
  if step == 0 then
    who, body = caller, '{"action":"call","to":"' .. callee .. '"}'
  elseif step == 1 then
    who, body = callee, '{"action":"accept"}'
  else
    who, body = caller, '{"action":"hangup"}'
  end
  return wrk.format("POST", "/api/v1/phones/" .. who .. "/actions", hdr, body)
end

function response(status, headers, body)
  wait_ms = think
  if status == 200 then
    step = (step + 1) % 3
    return
  end
  if status == 503 then
    wait_ms = 1000 * tonumber(headers["Retry-After"] or "1")
  end
  -- A refused call leaves both idle: dial again. A refused accept leaves
  -- the call ringing: the caller hangs up. A hangup that failed ended the
  -- call anyway (a 503: its record not yet committed) or found none.
  if step == 1 then
    step = 2
  else
    step = 0
  end
end

function delay()
  return wait_ms
end

function done(summary, latency, requests)
  io.write(string.format("cycle.lua: %d requests, non-2xx %d\n", summary.requests,
    summary.errors.status))
end
