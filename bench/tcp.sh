#!/usr/bin/env bash
# lb --mode tcp beside HAProxy `mode tcp`, nginx `stream` and the minimal Node.js layer-4 proxy
# (../shared/bench/node-tcp-proxy.js), with ../shared/bench/proxy-bench.sh: the same wrk load through
# each byte pipe, once over persistent connections (req/s carried by a proxied stream) and once with
# --close (every request a new connection: connections per second). Each target on one core.
# Only 127.0.0.1 is targeted; every wrk run is capped at 10 s; the harness stops what it starts.
#
#   bash bench/tcp.sh            (ROUNDS=3 bash bench/tcp.sh for medians of interleaved rounds)
#
# The harness uses fixed ports (3101-3103, 8081-8099) shared by everyone on the machine: both passes
# run under `flock /tmp/lb-bench.lock`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-1}
B=../shared/bench
[ -x "$B/proxy-bench.sh" ] || [ -f "$B/proxy-bench.sh" ] || { echo "bench/tcp.sh: $B/proxy-bench.sh not found" >&2; exit 2; }
[ -f dist/cli.js ] || npm run build >/dev/null
targets=(
  haproxy-tcp
  nginx-stream
  "node-tcp=node $B/node-tcp-proxy.js"
  'lb-tcp=bin/lb.js serve --mode tcp --port {PORT} --admin-port 0 --servers {SERVERS_JSON} --log-level warn'
)
echo "== persistent connections (req/s through the byte pipe) =="
flock /tmp/lb-bench.lock bash "$B/proxy-bench.sh" -r "$ROUNDS" --no-low direct "${targets[@]}"
echo
echo "== --close: one new connection per request (connections/s) =="
flock /tmp/lb-bench.lock bash "$B/proxy-bench.sh" -r "$ROUNDS" --no-low --close direct "${targets[@]}"
