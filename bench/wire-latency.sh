#!/usr/bin/env bash
# p99 as wrk reports it against p99 on the wire, for lb and the undici reference proxy of ../shared/bench,
# in interleaved rounds set up like proxy-bench.sh (nginx backends and wrk on CPU 0, the proxy alone on
# CPU 1, wrk -c64, 2 s of warm-up, 10 s measured). During each measured run tcpdump (on CPU 0) records the
# proxy's port, and bench/wire-latency.mjs turns the capture into the latency each request saw at the
# proxy, and into the p99 wrk would report for those latencies (its coordinated-omission correction
# applied). When that matches wrk's own figure, wrk's p99 is the proxy's long waits counted many times
# over; the first answers on wrk's new connections are the usual long waits, so their wait is printed too.
#
#   sudo bash bench/wire-latency.sh         (ROUNDS=5 for more; needs tcpdump, nginx and wrk from apt)
#
# Only 127.0.0.1 is targeted, every wrk run is capped at 10 s, and everything started is stopped. Ports:
# backends 3101-3103 (as the shared harness), proxy 8095: run under `flock /tmp/lb-bench.lock`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
B=../shared/bench
for tool in tcpdump nginx wrk taskset; do command -v $tool >/dev/null || { echo "bench/wire-latency.sh: $tool not found" >&2; exit 2; }; done
[ -f dist/cli.js ] || npm run build >/dev/null
RUN=$(mktemp -d "${TMPDIR:-/tmp}/wire-latency.XXXXXX")
mkdir -p "$RUN/nb-tmp"
sed "s#@@RUNDIR@@#$RUN#g" "$B/nginx-backends.conf" > "$RUN/nginx.conf"
echo '[{"host":"127.0.0.1","port":3101},{"host":"127.0.0.1","port":3102},{"host":"127.0.0.1","port":3103}]' > "$RUN/servers.json"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
taskset -c 0 nginx -e "$RUN/nginx.error.log" -p "$RUN" -c "$RUN/nginx.conf" > /dev/null 2>&1 & pids+=($!)
wait_port() { for _ in $(seq 150); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }
wait_port 3101
declare -A targets=(
  [ref]="PORT=8095 NODE_PATH=$PWD/node_modules exec node $B/node-undici-proxy.js"
  [lb]="exec bin/lb.js serve --port 8095 --admin-port 0 --servers $RUN/servers.json --log-level warn"
)
printf '%-5s %-4s %10s %12s %12s %18s %20s\n' round name 'req/s' 'wrk p99 ms' 'wire p99 ms' 'wire p99 as wrk ms' 'first answer p50/max'
for round in $(seq "$ROUNDS"); do
  for name in ref lb; do
    taskset -c 1 bash -c "${targets[$name]}" > "$RUN/$name-$round.log" 2>&1 & proxy=$!; pids+=($proxy)
    wait_port 8095
    taskset -c 0 wrk -t1 -c64 -d2s http://127.0.0.1:8095/ > /dev/null
    taskset -c 0 tcpdump -i lo -s 96 -B 65536 -w "$RUN/$name-$round.pcap" 'tcp port 8095' 2> /dev/null & dump=$!; pids+=($dump)
    sleep 0.5 # tcpdump opens the capture before the measured run starts
    out=$(taskset -c 0 wrk -t1 -c64 -d10s --latency http://127.0.0.1:8095/)
    kill "$dump"; wait "$dump" 2>/dev/null || true
    kill "$proxy"; wait "$proxy" 2>/dev/null || true
    wire=$(node bench/wire-latency.mjs "$RUN/$name-$round.pcap" 8095)
    printf '%-5s %-4s %10s %12s %12s %18s %20s\n' "$round" "$name" "$(awk '/Requests\/sec/ {print $2}' <<< "$out")" \
      "$(awk '/ 99%/ {print $2}' <<< "$out")" "$(awk '{print $8}' <<< "$wire")" "$(awk '{print $12}' <<< "$wire")" "$(awk '{print $14 "/" $16}' <<< "$wire")"
    rm -f "$RUN/$name-$round.pcap"
  done
done
