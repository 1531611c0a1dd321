#!/usr/bin/env bash
# Every algorithm on the pool the adaptive-balancing issue measures: three `lb testserver`s answering in
# 0, 20 and 50 ms, `lb loadtest` closed loop at 10 concurrent for 4 s each. Prints one table of req/s,
# p99 and each server's share. Not a test: figures swing with the machine; compare within one run.
# Run after a build, from the project root:  bash bench/adaptive.sh [seconds] [concurrent]
# Only 127.0.0.1 is used; every process started here is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-4}
CONCURRENT=${2:-10}
BASE=${ADAPTIVE_PORT:-18600}
LB="node bin/lb.js"
DIR=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT

i=0
for delay in 0 0.02 0.05; do
  i=$((i + 1))
  $LB testserver --port $((BASE + i)) --name "d${delay}" --delay "$delay" >/dev/null 2>&1 &
  pids+=($!)
done
printf '[{"host":"127.0.0.1","port":%d,"name":"fast"},{"host":"127.0.0.1","port":%d,"name":"mid"},{"host":"127.0.0.1","port":%d,"name":"slow"}]\n' \
  $((BASE + 1)) $((BASE + 2)) $((BASE + 3)) > "$DIR/servers.json"
$LB serve --port $((BASE + 10)) --admin-port $((BASE + 11)) --host 127.0.0.1 --servers "$DIR/servers.json" --no-health-check --log-level warn >/dev/null 2>"$DIR/lb.log" &
pids+=($!)
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$((BASE + 11))/health" && break; sleep 0.1; done

echo "pool: fast 0 ms, mid 20 ms, slow 50 ms; $CONCURRENT concurrent, ${SECONDS_EACH}s each (node $(node --version))"
echo "| algorithm | req/s | p50 ms | p99 ms | fast | mid | slow |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for algorithm in round_robin weighted random p2c least_connections least_response_time consistent_hash; do
  curl -s -o /dev/null -X POST -H 'content-type: application/json' -d "{\"algorithm\":\"$algorithm\"}" "http://127.0.0.1:$((BASE + 11))/lb/algorithm"
  $LB loadtest --url "http://127.0.0.1:$((BASE + 10))/" -z "${SECONDS_EACH}s" -c "$CONCURRENT" --json > "$DIR/$algorithm.json"
  node -e '
    const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const share = (id) => ((s.servers.find((x) => x.id === id)?.share ?? 0) * 100).toFixed(1) + "%";
    console.log(`| ${process.argv[2]} | ${s.throughputRps.toFixed(0)} | ${s.latencyMs.p50Ms.toFixed(1)} | ${s.latencyMs.p99Ms.toFixed(1)} | ${share("fast")} | ${share("mid")} | ${share("slow")} |`);
  ' "$DIR/$algorithm.json" "$algorithm"
done
