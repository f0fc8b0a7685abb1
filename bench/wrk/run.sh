#!/usr/bin/env bash
# Measures call -> accept -> hangup cycles over HTTP with wrk, bsc beside
# the bare net/http yardstick (bench/barehttp) in the same run.
#   bench/wrk/run.sh [connections] [seconds]
# Needs wrk (Debian: apt-get install wrk). Builds both servers, starts them
# on loopback, attaches the phones, runs wrk against each, stops them.
set -euo pipefail
conns=${1:-50}
secs=${2:-10}
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
if [ -n "${BSC_BIN:-}" ]; then cp "$BSC_BIN" "$tmp/bsc"; else go build -o "$tmp/bsc" ./cmd/bsc; fi
go build -o "$tmp/barehttp" ./bench/barehttp
"$tmp/bsc" serve --listen 127.0.0.1:18080 --db "$tmp/bsc.db" --frequencies 1-10000 --log-level warn ${BSC_FLAGS:-} &
"$tmp/barehttp" --listen 127.0.0.1:18081 &
for port in 18080 18081; do
  until curl -sf "http://127.0.0.1:$port/api/v1/phones/1/actions" -d '{}' -o /dev/null -w '' 2>/dev/null || curl -s "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do sleep 0.1; done
done
# Attach the phones of every connection.
items=$(for i in $(seq 0 $((2 * conns - 1))); do printf '{"msisdn":"%d"},' $((4690000000 + i)); done)
curl -sf -XPOST http://127.0.0.1:18080/api/v1/subscribers:bulk -H 'Content-Type: application/json' -d "{\"items\":[${items%,}]}" >/dev/null
for i in $(seq 0 $((2 * conns - 1))); do
  curl -sf -XPOST http://127.0.0.1:18080/api/v1/phones -H 'Content-Type: application/json' -d "{\"msisdn\":\"$((4690000000 + i))\"}" >/dev/null
done
for target in "bare net/http:18081" "bsc:18080"; do
  echo "== ${target%%:*}"
  wrk -t "$conns" -c "$conns" -d "${secs}s" --latency -s bench/wrk/cycle.lua "http://127.0.0.1:${target##*:}"
done
