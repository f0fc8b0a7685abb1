#!/usr/bin/env bash
# bsc load beside k6 and vegeta on the same server and the same work, to
# check that the driver measures like an outside tool (BENCHMARKS.md,
# issue 14).
#
#   bench/driver/compare.sh [attempts/s] [seconds] [rounds]
#
# Each round starts a fresh `bsc serve` for each tool in turn (same binary,
# same flags) and offers the same work: PAIRS pairs of phones (4690000000
# on), call -> accept -> hangup cycles at the given call attempts per
# second, every phone's replies streamed over GET /api/v1/events.
#  - bsc load runs its traffic model: Poisson call attempts, each callee
#    accepting as soon as its inbound reply comes, the caller hanging up
#    after an exponential holding time of mean HOLD.
#  - vegeta sends the requests of bench/driver/targets (read beforehand, so
#    that decoding them is not timed) at a constant rate (three per
#    attempt: the accept HOLD after the call, the hangup HOLD after the
#    accept); k6 sends the same requests at the same constant arrival rate
#    (bench/driver/cycle.js); wrk plays each pair on a connection of its
#    own, pausing after each answer (bench/wrk/cycle.lua with THINK_MS)
#    so as to make the same rate. Meanwhile curl reads the same event
#    streams, one per 1000 phones as the driver does, so that the server
#    does the same work. Each times a request from its sending to its answer's last
#    byte (k6's http_req_duration); k6 and vegeta send through Go's
#    net/http client, wrk from C on an event loop.
# It prints each tool's latency over the phone actions (p50, p90, p99), the
# requests per second, and the CPU time of the server, of the client (bsc
# load's includes attaching and detaching its phones) and of whatever else
# ran meanwhile.
# Each run waits for the machine to be under QUIET % busy (default 15).
# OLD_BIN=path also runs the driver of another build in each round (its
# report has per-operation latencies only).
# Needs k6 (go install go.k6.io/k6@latest), vegeta (go install
# github.com/tsenart/vegeta/v12@v12.13.0), wrk (Debian), curl, jq and bc.
set -euo pipefail
rate=${1:-1000}
secs=${2:-20}
rounds=${3:-3}
pairs=${PAIRS:-500}
phones=$((2 * pairs))
hold_ms=${HOLD_MS:-166}
erlangs=$(echo "$rate * $hold_ms / 1000" | bc -l)
port=18280
vegeta=${VEGETA:-$(go env GOPATH)/bin/vegeta}
k6=${K6:-$(go env GOPATH)/bin/k6}
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
if [ -n "${BSC_BIN:-}" ]; then cp "$BSC_BIN" "$tmp/bsc"; else go build -o "$tmp/bsc" ./cmd/bsc; fi
go run ./bench/driver/targets --target http://127.0.0.1:$port --pairs "$pairs" --rate $((3 * rate)) \
  --hold "${hold_ms}ms" --duration "${secs}s" >"$tmp/targets.json"

serve() {
  rm -f "$tmp"/bsc.db*
  "$tmp/bsc" serve --listen 127.0.0.1:$port --db "$tmp/bsc.db" --frequencies 1-10000 --log-level warn >>"$tmp/serve.log" 2>&1 &
  server=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.1; done
}
# jiffies is the machine's busy CPU time so far, in 1/100 s.
jiffies() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
srvcpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
# mark notes the CPU times as a client starts.
mark() { busy0=$(jiffies) srv0=$(srvcpu); }
# stop stops the server and prints, since mark, the CPU time of the
# server, of the client and of the rest of the machine: other engineers'
# work, which disturbs a run when it is more than a little.
stop() {
  local srv all
  srv=$(($(srvcpu) - srv0)) all=$(($(jiffies) - busy0))
  kill "$server"
  wait "$server" 2>/dev/null || true
  awk -v s="$srv" -v a="$all" '{c = 100 * ($1 + $2); printf "cpu      server %.2f s, client %.2f s, others %.2f s\n", s / 100, c / 100, (a - s - c) / 100}' "$tmp/time.txt"
}
# attach provisions and attaches vegeta's phones, manual (the default).
attach() {
  items=$(seq -f '{"msisdn":"%.0f"}' 4690000000 $((4690000000 + phones - 1)) | paste -sd,)
  curl -sf http://127.0.0.1:$port/api/v1/subscribers:bulk -H 'Content-Type: application/json' -d "{\"items\":[$items]}" >/dev/null
  seq 4690000000 $((4690000000 + phones - 1)) | xargs -P 8 -I{} curl -sf http://127.0.0.1:$port/api/v1/phones \
    -H 'Content-Type: application/json' -d '{"msisdn":"{}"}' -o /dev/null
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
# busy is the share of the CPUs busy over the next 2 s, in %.
busy() {
  read -r a b < <(awk '/^cpu /{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat)
  sleep 2
  read -r c d < <(awk '/^cpu /{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat)
  echo $((100 - 100 * (c - a) / (d - b)))
}
# quiet waits (5 min at most) until the machine is under QUIET % busy: it is
# shared, and others' builds shift every figure.
quiet() {
  for _ in $(seq 60); do
    b=$(busy)
    [ "$b" -lt "${QUIET:-15}" ] && break
    sleep 3
  done
  echo "(machine ${b} % busy over 2 s, load average $(load))"
}

echo "# $phones phones, $rate attempts/s, hold ${hold_ms} ms, ${secs} s, $(nproc) CPUs; load average $(load)"
# drive runs `bsc load` from binary $1 (BSC_BIN, or OLD_BIN for a driver of
# another build beside it) against a fresh server.
drive() {
  echo "## round $r: $2 $(quiet)"
  serve
  mark
  /usr/bin/time -o "$tmp/time.txt" -f "%U %S" "$1" load --target http://127.0.0.1:$port --phones "$phones" \
    --msisdn-base 4690000000 --erlangs "$erlangs" --holding-time "${hold_ms}ms" --duration "${secs}s" \
    --out "$tmp/load.json" >"$tmp/load.txt" 2>"$tmp/load.err" || true
  jq -r 'if .actions_latency_us then "actions  p50 \(.actions_latency_us.p50 / 1000) ms, p90 \(.actions_latency_us.p90 / 1000) ms, p99 \(.actions_latency_us.p99 / 1000) ms" else empty end,
    "by op    \([.operations[] | select(.count > 0 and .name != "attach" and .name != "detach") | "\(.name) p50 \(.latency_us.p50 / 1000)"] | join(", ")) ms",
    if .lag_us then "lag      p50 \(.lag_us.p50 / 1000) ms, p99 \(.lag_us.p99 / 1000) ms" else empty end,
    "requests \(.requests.actions_rate | floor)/s, attempts \(.calls.attempts), skipped \(.calls.skipped), errors \(.requests.errors)"' "$tmp/load.json"
  stop
}

# outside runs tool $1 (vegeta or k6) against a fresh server whose phones
# are attached beforehand, with curl reading their event streams, one per
# 1000 phones as the driver does, so that the server does the same work.
outside() {
  echo "## round $r: $1 $(quiet)"
  serve
  attach
  local readers=()
  for lo in $(seq 0 1000 $((phones - 1))); do
    ms=$(seq -s, $((4690000000 + lo)) $((4690000000 + (lo + 1000 < phones ? lo + 1000 : phones) - 1)))
    curl -sN -H 'Accept: text/event-stream' "http://127.0.0.1:$port/api/v1/events?msisdn=$ms" >/dev/null &
    readers+=($!)
  done
  mark
  case $1 in
  vegeta)
    /usr/bin/time -o "$tmp/time.txt" -f "%U %S" "$vegeta" attack -format=json -rate=$((3 * rate))/s \
      -duration="${secs}s" -timeout=5s <"$tmp/targets.json" >"$tmp/vegeta.bin" 2>"$tmp/vegeta.err" || true
    # The report leaves out the first slots' /healthz fillers (bench/driver/targets).
    "$vegeta" encode --to json <"$tmp/vegeta.bin" | jq -c 'select(.url | endswith("/healthz") | not)' |
      "$vegeta" report -type=text | awk '{gsub(",", "")} /^Latencies/{print "actions  p50 " $11 ", p90 " $12 ", p99 " $14} /^Requests/{print "requests " $6 "/s"}
      /^Status Codes/{$1 = $2 = $3 = ""; print "status  " $0}'
    ;;
  k6)
    BASE=http://127.0.0.1:$port PAIRS=$pairs RATE=$((3 * rate)) HOLD_MS=$hold_ms SECS=$secs \
      /usr/bin/time -o "$tmp/time.txt" -f "%U %S" "$k6" run --quiet --summary-export "$tmp/k6.json" \
      bench/driver/cycle.js >"$tmp/k6.txt" 2>"$tmp/k6.err" || true
    jq -r '.metrics.http_req_duration as $d | def ms: . * 1000 | round / 1000;
      "actions  p50 \($d.med | ms) ms, p90 \($d["p(90)"] | ms) ms, p99 \($d["p(99)"] | ms) ms",
      "requests \(.metrics.http_reqs.rate | floor)/s, \(.metrics.http_reqs.count) in all, failed \(.metrics.http_req_failed.passes), dropped iterations \(.metrics.dropped_iterations.count // 0)"' "$tmp/k6.json"
    ;;
  wrk)
    # A thread and a connection per pair, each pausing after every answer
    # (bench/wrk/cycle.lua) so that the pairs make the same rate: PAIRS /
    # (3 pauses) cycles per second (the pause is HOLD at the defaults).
    THINK_MS=$((pairs * 1000 / (3 * rate))) /usr/bin/time -o "$tmp/time.txt" -f "%U %S" wrk -t "$pairs" -c "$pairs" -d "${secs}s" \
      --latency -s bench/wrk/cycle.lua "http://127.0.0.1:$port" >"$tmp/wrk.txt" 2>"$tmp/wrk.err" || true
    awk '/^ +50%/{p50 = $2} /^ +90%/{p90 = $2} /^ +99%/{p99 = $2} /^Requests\/sec/{rps = $2} /non-2xx/{bad = $0}
      END {print "actions  p50 " p50 ", p90 " p90 ", p99 " p99; print "requests " rps "/s; " bad}' "$tmp/wrk.txt"
    ;;
  esac
  kill "${readers[@]}" 2>/dev/null || true
  stop
}

for r in $(seq "$rounds"); do
  drive "$tmp/bsc" "bsc load"
  if [ -n "${OLD_BIN:-}" ]; then drive "$OLD_BIN" "bsc load from $OLD_BIN"; fi
  outside vegeta
  outside k6
  outside wrk
done
