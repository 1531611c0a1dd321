#!/usr/bin/env bash
# Layer-4 bulk throughput and idle-connection memory: HAProxy `mode tcp`, nginx `stream`, the minimal Node
# proxy and lb --mode tcp, each pinned to CPU 1, in front of one `lb testserver --tcp` echo server; the
# load (`lb loadtest --tcp`) and the echo server share CPU 0. Per target: MB/s through 1 connection
# (256 MB each way) and through 64 (4 MB each way each), and RSS with 9 500 idle connections (the fd
# limit here is 20 000, and a proxy holds two per connection). Ports 42300-42310 on 127.0.0.1 only;
# everything started is stopped. Runs under `flock /tmp/lb-bench.lock` so shared-harness runs do not overlap.
#
#   bash bench/tcp-bulk.sh
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
ECHO=42300
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
    bind 127.0.0.1:42301
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
stream { server { listen 127.0.0.1:42302; proxy_half_close on; proxy_pass 127.0.0.1:$ECHO; } }
CFG
echo "[{\"host\":\"127.0.0.1\",\"port\":$ECHO}]" > "$RUN/servers.json"
declare -A CMD=(
  [haproxy-tcp]="haproxy -db -f $RUN/haproxy.cfg"
  [nginx-stream]="nginx -e $RUN/nginx.error.log -p $RUN -c $RUN/nginx.conf"
  [node-tcp]="env PORT=42303 BACKENDS=127.0.0.1:$ECHO node $B/node-tcp-proxy.js"
  [lb-tcp]="node bin/lb.js serve --mode tcp --port 42304 --admin-port 42305 --servers $RUN/servers.json --log-level warn"
)
declare -A PORT=([direct]=$ECHO [haproxy-tcp]=42301 [nginx-stream]=42302 [node-tcp]=42303 [lb-tcp]=42304)
# MB/s received back; "cut" when the echo came back short (a proxy that closes both sides at the client's
# FIN, as node-tcp-proxy.js does: the load sends everything, half-closes, then reads the echo).
mbps() { { taskset -c 0 node bin/lb.js loadtest --tcp --url "tcp://127.0.0.1:$1" --no-names -n "$2" -c "$2" --bytes "$3" --timeout 120 --json 2>/dev/null || true; } | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const j=JSON.parse(s);console.log(j.connections.failed>0?"cut":j.receivedMBps.toFixed(1))}catch{console.log("cut")}})'; }
# Every listener is bound before any load runs: the load's ephemeral ports share this range, and a port
# taken by a connection cannot be bound.
declare -A PID=()
for t in haproxy-tcp nginx-stream node-tcp lb-tcp; do
  setsid taskset -c 1 ${CMD[$t]} >"$RUN/$t.log" 2>&1 & PID[$t]=$!; pids+=($!)
done
for t in haproxy-tcp nginx-stream node-tcp lb-tcp; do wait_port "${PORT[$t]}"; done
sleep 1
printf '%-13s %12s %12s %12s %14s\n' target 'MB/s x1' 'MB/s x64' 'idle RSS MB' 'KiB/conn idle'
for t in direct haproxy-tcp nginx-stream node-tcp lb-tcp; do
  one=$(mbps "${PORT[$t]}" 1 268435456)
  many=$(mbps "${PORT[$t]}" 64 4194304)
  idle="-"; per="-"
  if [ "$t" != direct ]; then
    procs=$(pgrep -s "${PID[$t]}" | paste -sd, -)
    read -r idle per < <(taskset -c 0 node bench/tcp-idle.mjs "${PORT[$t]}" 9500 "$procs" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.rssWithIdleMiB, j.kibPerConnection)})')
  fi
  printf '%-13s %12s %12s %12s %14s\n' "$t" "$one" "$many" "$idle" "$per"
done
for t in haproxy-tcp nginx-stream node-tcp lb-tcp; do kill -- -"${PID[$t]}" 2>/dev/null || true; done
