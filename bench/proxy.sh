#!/usr/bin/env bash
# Direct vs proxied throughput on this machine, with wrk: three `lb testserver` backends, one `lb serve`
# in front of them, the same wrk run against one backend directly and against the balancer.
# Only 127.0.0.1 is targeted; each wrk run is bounded (-d, default 10 s); everything started is stopped.
#
#   bash bench/proxy.sh [seconds] [connections]        (needs wrk: apt-get install -y wrk)
#
# On 2 cores the balancer gets CPU 1 and the backends + wrk share CPU 0 (taskset), as ../shared/bench does.
# For figures against nginx, HAProxy and a minimal undici proxy, use ../shared/bench/proxy-bench.sh
# (README, Performance).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${1:-10}
CONNS=${2:-64}
[ "$DURATION" -le 10 ] || { echo "bench/proxy.sh: at most 10 seconds per run" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench/proxy.sh: wrk not found (apt-get install -y wrk)" >&2; exit 2; }
[ -f dist/cli.js ] || npm run build >/dev/null

can_pin() { command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; }
pin() { if can_pin; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }
pids=()
# Started directly (not through a function, which would fork a subshell) so that $! is the server itself.
start_bg() { if can_pin; then taskset -c "$1" "${@:2}" & else "${@:2}" & fi; pids+=($!); }
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "bench/proxy.sh: nothing listens on port $1" >&2; exit 1
}

for port in 3101 3102 3103 8090; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "bench/proxy.sh: port $port is already in use" >&2; exit 1; fi
done
servers=$(mktemp)
echo '[{"host":"127.0.0.1","port":3101},{"host":"127.0.0.1","port":3102},{"host":"127.0.0.1","port":3103}]' > "$servers"
for port in 3101 3102 3103; do
  start_bg 0 node bin/lb.js testserver --port "$port" >/dev/null
done
start_bg 1 node bin/lb.js serve --port 8090 --admin-port 0 --host 127.0.0.1 --servers "$servers" --log-level warn >/dev/null
for port in 3101 3102 3103 8090; do wait_port "$port"; done

run() {
  local name=$1 url=$2
  pin 0 wrk -t1 -c"$CONNS" -d2s "$url" >/dev/null   # warm-up: JIT and pooled connections
  local out; out=$(pin 0 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$url")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  printf '%-28s %12s req/s   p50 %-9s p99 %s\n' "$name" "$rps" "$p50" "$p99"
}

echo "wrk -t1 -c$CONNS -d${DURATION}s, $(nproc) cores"
run "direct (one testserver)" "http://127.0.0.1:3101/"
run "lb serve (3 testservers)" "http://127.0.0.1:8090/"
rm -f "$servers"
