#!/usr/bin/env bash
# Layer-4 bulk throughput and idle-connection memory: HAProxy `mode tcp`, nginx `stream`, the minimal Node
# proxy and lb --mode tcp, each pinned to CPU 1, in front of one `lb testserver --tcp` echo server; the
# load (`lb loadtest --tcp`) and the echo server share CPU 0. Per target: MB/s through 1 connection
# (256 MB each way) and through 64 (4 MB each way each), and RSS with 9 500 idle connections (the fd
# limit here is 20 000, and a proxy holds two per connection). Ports 22300-22310 on 127.0.0.1 only
# (below the ephemeral range, so no connection can hold one); everything started is stopped. Runs under `flock /tmp/lb-bench.lock` so shared-harness runs do not overlap.
#
# The bulk runs go in ROUNDS interleaved rounds (every target once per round, in turn) and the table shows
# medians and each target's median ratio to HAProxy within a round: one transfer swings by ±30% on a shared
# VM, and what moves a whole round moves every target in it alike. RSS is measured once, after the rounds.
#
#   bash bench/tcp-bulk.sh            (ROUNDS=5 bash bench/tcp-bulk.sh; default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/cli.js ] || npm run build >/dev/null
exec 9>/tmp/lb-bench.lock
flock 9
B=../shared/bench
RUN=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -- -"$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$RUN"; }
trap cleanup EXIT INT TERM
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing on $1" >&2; exit 1; }
ECHO=22300
taskset -c 0 node bin/lb.js testserver --tcp --port $ECHO >/dev/null & pids+=($!)
wait_port $ECHO
cat > "$RUN/haproxy.cfg" <<CFG
global
    nbthread 1
    maxconn 9900
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe
    bind 127.0.0.1:22301
    default_backend be
backend be
    server e1 127.0.0.1:$ECHO
CFG
cat > "$RUN/nginx.conf" <<CFG
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
worker_rlimit_nofile 19990;
daemon off;
pid $RUN/nginx.pid;
error_log $RUN/nginx.error.log warn;
events { worker_connections 19900; }
# proxy_half_close: the load sends all, then FIN, then reads the echo (nginx closes both sides at a FIN otherwise).
stream { server { listen 127.0.0.1:22302; proxy_half_close on; proxy_pass 127.0.0.1:$ECHO; } }
CFG
echo "[{\"host\":\"127.0.0.1\",\"port\":$ECHO}]" > "$RUN/servers.json"
declare -A CMD=(
  [haproxy-tcp]="haproxy -db -f $RUN/haproxy.cfg"
  [nginx-stream]="nginx -e $RUN/nginx.error.log -p $RUN -c $RUN/nginx.conf"
  [node-tcp]="env PORT=22303 BACKENDS=127.0.0.1:$ECHO node $B/node-tcp-proxy.js"
  [node-tcp-hc]="env PORT=22306 BACKENDS=127.0.0.1:$ECHO node bench/node-tcp-half-close.cjs"
  [lb-tcp]="bin/lb.js serve --mode tcp --port 22304 --admin-port 22305 --servers $RUN/servers.json --log-level warn"
)
declare -A PORT=([direct]=$ECHO [haproxy-tcp]=22301 [nginx-stream]=22302 [node-tcp]=22303 [node-tcp-hc]=22306 [lb-tcp]=22304)
# MB/s received back; "cut" when the echo came back short (a proxy that closes both sides at the client's
# FIN, as node-tcp-proxy.js does: the load sends everything, half-closes, then reads the echo).
mbps() { { taskset -c 0 node bin/lb.js loadtest --tcp --url "tcp://127.0.0.1:$1" --no-names -n "$2" -c "$2" --bytes "$3" --timeout 120 --json 2>/dev/null || true; } | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const j=JSON.parse(s);console.log(j.connections.failed>0?"cut":j.receivedMBps.toFixed(1))}catch{console.log("cut")}})'; }
# Every listener is bound before any load runs: the load's ephemeral ports share this range, and a port
# taken by a connection cannot be bound.
ROUNDS=${ROUNDS:-3}
TARGETS=(haproxy-tcp nginx-stream node-tcp node-tcp-hc lb-tcp)
declare -A PID=()
# CPU time (user + system, in clock ticks) of a target's processes: what one transfer cost it.
ticks() { stat_sum "$1" '$14 + $15'; }
# Minor page faults of a target's processes (a heap that shrinks and regrows pays one per 4 KiB page).
faults() { stat_sum "$1" '$10'; }
stat_sum() { if [ "$1" = direct ]; then echo 0; return; fi; local sum=0 p; for p in $(pgrep -s "${PID[$1]}"); do sum=$((sum + $(awk "{print $2}" "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$sum"; }
for t in "${TARGETS[@]}"; do
  setsid taskset -c 1 ${CMD[$t]} >"$RUN/$t.log" 2>&1 & PID[$t]=$!; pids+=($!)
done
for t in "${TARGETS[@]}"; do wait_port "${PORT[$t]}"; done
sleep 1
for r in $(seq 1 "$ROUNDS"); do
  for t in direct "${TARGETS[@]}"; do
    before=$(ticks "$t"); faults_before=$(faults "$t")
    one=$(mbps "${PORT[$t]}" 1 268435456)
    mid=$(ticks "$t")
    many=$(mbps "${PORT[$t]}" 64 4194304)
    echo "$r $t $one $many $((mid - before)) $(( $(ticks "$t") - mid )) $(( $(faults "$t") - faults_before ))" >> "$RUN/bulk.txt"
  done
  echo "round $r: MB/s x1/x64 [the target's CPU ticks x1/x64, page faults]: $(awk -v r="$r" '$1 == r { printf "%s %s/%s [%s/%s, %s]  ", $2, $3, $4, $5, $6, $7 }' "$RUN/bulk.txt")" >&2
done
# Medians over rounds, and the median of each round's ratio to HAProxy ("cut" rows have no figure).
summary() {
  node -e '
    const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split(" "));
    const med = (a) => { const s = a.filter((x) => !Number.isNaN(x)).sort((x, y) => x - y); return s.length === 0 ? NaN : s[(s.length - 1) >> 1]; };
    const fmt = (x, d) => (Number.isNaN(x) ? "cut" : x.toFixed(d));
    const at = (r, t, col) => { const row = rows.find((x) => x[0] === r && x[1] === t); return row ? Number(row[col]) : NaN; };
    const rounds = [...new Set(rows.map((x) => x[0]))];
    for (const t of [...new Set(rows.map((x) => x[1]))]) {
      const cells = [2, 3].flatMap((col) => [med(rounds.map((r) => at(r, t, col))), med(rounds.map((r) => at(r, t, col) / at(r, "haproxy-tcp", col)))]);
      console.log(t + " " + cells.map((x, i) => fmt(x, i % 2 === 0 ? 1 : 2)).join(" "));
    }' "$RUN/bulk.txt"
}
declare -A BULK=()
while read -r t one r1 many r64; do BULK[$t]="$one $r1 $many $r64"; done < <(summary)
printf '%-13s %10s %8s %10s %8s %12s %14s\n' target 'MB/s x1' '/haproxy' 'MB/s x64' '/haproxy' 'idle RSS MB' 'KiB/conn idle'
for t in direct "${TARGETS[@]}"; do
  idle="-"; per="-"
  if [ "$t" != direct ]; then
    procs=$(pgrep -s "${PID[$t]}" | paste -sd, -)
    read -r idle per < <(taskset -c 0 node bench/tcp-idle.mjs "${PORT[$t]}" 9500 "$procs" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.rssWithIdleMiB, j.kibPerConnection)})')
  fi
  read -r one r1 many r64 <<< "${BULK[$t]}"
  printf '%-13s %10s %8s %10s %8s %12s %14s\n' "$t" "$one" "$r1" "$many" "$r64" "$idle" "$per"
done
echo "($ROUNDS interleaved rounds; MB/s received back, medians; /haproxy: median of per-round ratios)"
for t in "${TARGETS[@]}"; do kill -- -"${PID[$t]}" 2>/dev/null || true; done
