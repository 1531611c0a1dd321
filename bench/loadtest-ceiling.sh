#!/usr/bin/env bash
# Ceiling of `lb loadtest` next to autocannon against the same fast target, each pinned to one core
# (not a test: prints figures). The target is nginx (apt-get install -y nginx) with the shared bench's
# fixed-body backend config, pinned to the other core. Only 127.0.0.1 is targeted; runs are bounded.
#
#   bash bench/loadtest-ceiling.sh [seconds=10] [connections=64] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
CONNS=${2:-64}
ROUNDS=${3:-3}
[ "$SECONDS_PER_RUN" -le 30 ] || { echo "bench/loadtest-ceiling.sh: at most 30 seconds per run" >&2; exit 2; }
command -v nginx >/dev/null || { echo "bench/loadtest-ceiling.sh: nginx not found (apt-get install -y nginx)" >&2; exit 2; }
[ -x node_modules/.bin/autocannon ] || { echo "bench/loadtest-ceiling.sh: run npm install first (autocannon is a dev dependency)" >&2; exit 2; }
[ -f dist/cli.js ] || npm run build >/dev/null
conf=../shared/bench/nginx-backends.conf
[ -f "$conf" ] || { echo "bench/loadtest-ceiling.sh: $conf not found" >&2; exit 2; }

pin() { if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }
run_dir=$(mktemp -d)
mkdir -p "$run_dir/nb-tmp"
sed "s|@@RUNDIR@@|$run_dir|g" "$conf" > "$run_dir/nginx.conf"
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then taskset -c 0 nginx -c "$run_dir/nginx.conf" -p "$run_dir" & else nginx -c "$run_dir/nginx.conf" -p "$run_dir" & fi
nginx_pid=$!
cleanup() { kill "$nginx_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$run_dir"; }
trap cleanup EXIT INT TERM
for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/3101) 2>/dev/null && break; sleep 0.1; done
URL=http://127.0.0.1:3101/

echo "target: nginx (1 worker, CPU 0) $URL; load generators on CPU 1; -c $CONNS, ${SECONDS_PER_RUN}s per run, $ROUNDS rounds"
printf '%-6s %14s %14s %8s\n' round autocannon 'lb loadtest' ratio
ratios=()
for round in $(seq 1 "$ROUNDS"); do
  pin 1 node_modules/.bin/autocannon -c "$CONNS" -d 2 "$URL" >/dev/null 2>&1   # warm-up
  ac=$(pin 1 node_modules/.bin/autocannon -c "$CONNS" -d "$SECONDS_PER_RUN" -j "$URL" 2>/dev/null | node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(JSON.parse(s).requests.average))')
  lbr=$(pin 1 node bin/lb.js loadtest --url "$URL" --concurrent "$CONNS" --duration "${SECONDS_PER_RUN}s" --json | node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(JSON.parse(s).throughputRps))')
  ratio=$(node -e "console.log(($lbr/$ac).toFixed(3))")
  ratios+=("$ratio")
  printf '%-6s %14.0f %14.0f %8s\n' "$round" "$ac" "$lbr" "$ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median ratio lb loadtest / autocannon: $median (target >= 0.70, with the HDR histogram and per-server accounting on)"
