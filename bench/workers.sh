#!/usr/bin/env bash
# `lb serve --workers N` against one process and against nginx with as many workers, in one run of the
# shared proxy harness (../shared/bench/proxy-bench.sh), everything on both cores (wrk, the backends
# and the proxy share them: this machine has two, so throughput cannot show N times; compare ratios).
# Then the primary's own CPU: `--workers 2` under wrk for 10 s, the primary's CPU time from /proc.
# Run after a build, from the project root:  bash bench/workers.sh [rounds]
# Only 127.0.0.1 is used; every process started here is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
HARNESS=../shared/bench/proxy-bench.sh
DIR=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT

# nginx with two workers: the harness's own config, one line changed.
sed 's/^worker_processes 1;/worker_processes 2;/' ../shared/bench/nginx-proxy.conf > "$DIR/nginx2.conf.in"
cat > "$DIR/nginx2.sh" <<'SH'
#!/usr/bin/env bash
sed "s|@@RUNDIR@@|$RUNDIR|g; s|@@PORT@@|$PORT|g; s|nginx-proxy|nginx2-proxy|g" "$1" > "$RUNDIR/nginx2.conf"
mkdir -p "$RUNDIR/np-tmp"
exec nginx -c "$RUNDIR/nginx2.conf"
SH
chmod +x "$DIR/nginx2.sh"

LB_ARGS='serve --port {PORT} --admin-port 0 --host 127.0.0.1 --servers {SERVERS_JSON} --log-level warn'
"$HARNESS" -r "$ROUNDS" --proxy-cpu 0,1 --load-cpu 0,1 --no-low \
  "lb-1=node bin/lb.js $LB_ARGS --workers 1" \
  "lb-2=node bin/lb.js $LB_ARGS --workers 2" \
  "nginx-2=$DIR/nginx2.sh $DIR/nginx2.conf.in"

# The primary's share: it owns the admin API and health checks and relays changes, and proxies nothing;
# its work does not grow with requests (a report per worker a second, and one per /lb/stats).
echo
echo "primary CPU with --workers 2 under wrk -t1 -c64 -d10s (health checks every 1 s, one /lb/stats a second):"
PORT=${WORKERS_BENCH_PORT:-18700}
printf '[{"host":"127.0.0.1","port":3101},{"host":"127.0.0.1","port":3102},{"host":"127.0.0.1","port":3103}]\n' > "$DIR/servers.json"
# The harness stopped its backends: the same nginx backends again.
mkdir -p "$DIR/nb-tmp"
sed "s|@@RUNDIR@@|$DIR|g" ../shared/bench/nginx-backends.conf > "$DIR/backends.conf"
nginx -c "$DIR/backends.conf" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -s -o /dev/null http://127.0.0.1:3101/ && break; sleep 0.1; done
node bin/lb.js serve --workers 2 --port "$PORT" --admin-port $((PORT + 1)) --host 127.0.0.1 --servers "$DIR/servers.json" --log-level warn >/dev/null 2>"$DIR/lb.log" &
primary=$!
pids+=("$primary")
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$((PORT + 1))/health" && break; sleep 0.1; done
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Warm up first: the primary's start (loading, compiling) is not what it costs while it runs.
timeout 10 wrk -t1 -c64 -d3s "http://127.0.0.1:$PORT/" >/dev/null
hz=$(getconf CLK_TCK)
before=$(ticks "$primary")
( for _ in $(seq 1 10); do curl -s -o /dev/null "http://127.0.0.1:$((PORT + 1))/lb/stats"; sleep 1; done ) &
pids+=($!)
out=$(timeout 20 wrk -t1 -c64 -d10s "http://127.0.0.1:$PORT/")
after=$(ticks "$primary")
rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
echo "  $rps req/s through 2 workers; primary used $(( (after - before) * 1000 / hz )) ms of CPU in 10 s = $(awk -v t=$((after - before)) -v hz="$hz" 'BEGIN {printf "%.2f", t / hz / 10 * 100}')% of a core"
