#!/usr/bin/env bash
# admitd's HTTP API under wrk, side by side with the HTTP peers of ../shared/peers/http
# (Node.js fastify + Redis 7 Lua booking API, nginx answering a fixed 200) in one run.
#
#   bench/http/run.sh [--duration S] [--repeat N] [--connections "50 100"] [--pipeline P]
#                     [--nice N] [--build DIR] [--no-build] [--peers DIR] [--no-peers]
#                     [--out DIR] [--quick]
#
# Builds release admitd (./dev bench server/admitd: build-release/) unless --no-build. Every
# server runs on CPU1 (taskset), wrk -t1 on CPU0, keep-alive, --duration s per run (5),
# --repeat (3) passes; each pass starts every server, then runs each workload on each server
# back to back (ratios are taken within a pass). About 7–8 minutes with the defaults.
#   admitd --shards 1 --durability off:    book, GET /v1/events/{id}, sold out (409) at each
#                                          --connections; book pipelined (--pipeline per write)
#   admitd --shards 1 --durability strict: book at each --connections; book pipelined
#   Node + Redis (the peer's server.js), 1 process and a 2-worker cluster, Redis without
#   persistence and with appendfsync always: book at each --connections
#   nginx, 1 worker, `return 200`: a static GET, and book.lua's POSTs (wrk's booking cost)
# --nice N runs servers and wrk at that niceness (e.g. -10 on a box shared with builds).
# Checks every run (see bench/README.md "HTTP") and stops on a failure. Prints a table of
# medians; writes OUT/runs.txt (a key=value line per run), OUT/summary.json, OUT/summary.txt
# (default OUT: /tmp/admit-bench-http/<UTC stamp>). Installs wrk, nginx-light, redis-server
# and time with apt-get, and the peer's npm packages in /tmp/admit-peer-http-deps, if missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
duration=5
repeat=3
connections="50 100"
pipeline=16
priority=0
build=$root/build-release
do_build=yes
peers=$root/../shared/peers/http
do_peers=yes
out=""
check_seconds=1       # the status-counting check runs (first pass only)
warmup_seconds=1      # each server, at the start of a pass, not recorded
node_warmup_seconds=2 # V8 compiles the hot path in the first seconds
capacity_huge=1000000000

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --pipeline) pipeline=$2; shift 2 ;;
    --nice) priority=$2; shift 2 ;;
    --build) build=$(realpath -m "$2"); shift 2 ;;
    --no-build) do_build=no; shift ;;
    --peers) peers=$2; shift 2 ;;
    --no-peers) do_peers=no; shift ;;
    --out) out=$2; shift 2 ;;
    --quick) duration=3; repeat=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
  esac
done
for number in "$duration" "$repeat" "$pipeline" $connections; do
  [[ "$number" =~ ^[0-9]+$ ]] && [ "$number" -gt 0 ] ||
    { echo "run.sh: '$number' is not a positive integer" >&2; exit 2; }
done
[[ "$priority" =~ ^-?[0-9]+$ ]] || { echo "run.sh: --nice takes an integer" >&2; exit 2; }
[ "$duration" -le 60 ] || { echo "run.sh: --duration is at most 60 s" >&2; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "run.sh: needs 2 CPUs (servers on CPU1, wrk on CPU0)" >&2; exit 2; }

# ---- what it needs ----

missing=()
command -v wrk >/dev/null || missing+=(wrk)
[ -x /usr/bin/time ] || missing+=(time)
if [ "$do_peers" = yes ]; then
  command -v nginx >/dev/null || missing+=(nginx-light)
  command -v redis-server >/dev/null || missing+=(redis-server redis-tools)
  command -v node >/dev/null || missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "run.sh: installing ${missing[*]} (Debian packages)" >&2
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
if [ "$do_peers" = yes ]; then
  [ -f "$peers/server.js" ] ||
    { echo "run.sh: no peer at $peers (--peers DIR, or --no-peers)" >&2; exit 2; }
  peers=$(cd "$peers" && pwd)
  # The peer's folder may be read-only: its npm packages go where its own run.sh puts them.
  deps=${DEPS:-/tmp/admit-peer-http-deps}
  if [ ! -d "$deps/node_modules/fastify" ] || [ ! -d "$deps/node_modules/ioredis" ]; then
    mkdir -p "$deps" && cp "$peers/package.json" "$peers/package-lock.json" "$deps/"
    (cd "$deps" && npm ci --no-audit --no-fund >/dev/null)
  fi
  export NODE_PATH=$deps/node_modules
fi
if [ "$do_build" = yes ]; then
  (cd "$root" && nice -n 10 ./dev bench server/admitd >/dev/null)
fi
admitd=$build/server/admitd
[ -x "$admitd" ] || { echo "run.sh: $admitd not found (build, or --build DIR)" >&2; exit 2; }

stamp=$(date -u +%Y%m%d_%H%M%S)
out=${out:-/tmp/admit-bench-http/$stamp}
mkdir -p "$out"
runs=$out/runs.txt
log=$out/servers.log
work=$(mktemp -d /tmp/admit-bench-http-work-XXXXXX)
: >"$runs"
: >"$out/checks.txt"

# ---- servers (each started here, stopped by its PID) ----
#
# A pass starts every server; all but the one under load sit idle, so the runs compared
# follow each other seconds apart (a shared box's speed drifts within minutes).

declare -A url pids redis_of  # by server name: base URL, its PIDs, the PID of its Redis
all_pids=()
stop_pid() {  # PID: TERM, up to 10 s, then KILL
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
children() { cat /proc/"$1"/task/*/children 2>/dev/null || true; }
stop_all() {  # in start order: a node cluster's primary stops its workers itself
  local pid
  for pid in "${all_pids[@]}"; do stop_pid "$pid"; done
  all_pids=()
}
cleanup() {
  stop_all
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_ports (and the other helpers of bench/compare/; run.sh defines its own start_admitd below).
# shellcheck source=../compare/common.sh
source "$here/../compare/common.sh"

wait_http() {  # URL PID: until URL answers 2xx, or the server died
  for _ in $(seq 200); do
    curl -sf -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  echo "run.sh: no answer from $1; see $log" >&2; exit 1
}
exec_pinned() {  # CPUS COMMAND...: on those CPUs, at --nice. Only ever run with & (in a
  # subshell): exec keeps $! the server's own PID (taskset and nice exec too).
  exec taskset -c "$1" nice -n "$priority" "${@:2}"
}

start_admitd() {  # off|strict
  local name=admitd-$1 port http_port dir=$work/admitd-$1-$SECONDS
  port=$(free_ports 2); http_port=$(free_ports 1)
  mkdir -p "$dir"
  exec_pinned 1 "$admitd" --listen "127.0.0.1:$port" --http "127.0.0.1:$http_port" --shards 1 \
    --durability "$1" --data "$dir/data" >>"$log" 2>&1 &
  pids[$name]=$!; all_pids+=($!)
  url[$name]=http://127.0.0.1:$http_port
  wait_http "${url[$name]}/healthz" "${pids[$name]}"
}
redis_port="" redis_pid=""
start_redis() {  # none|always CPUS: sets redis_port and redis_pid
  local dir persistence=(--appendonly no)
  [ "$1" = always ] && persistence=(--appendonly yes --appendfsync always)
  redis_port=$(free_ports 1)
  dir=$work/redis-$redis_port; mkdir -p "$dir"
  exec_pinned "$2" redis-server --port "$redis_port" --bind 127.0.0.1 --protected-mode yes \
    --dir "$dir" --save '' "${persistence[@]}" --auto-aof-rewrite-percentage 0 \
    --daemonize no --logfile "$dir/redis.log" &
  redis_pid=$!; all_pids+=($!)
  for _ in $(seq 100); do
    [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.05
  done
  echo "run.sh: redis-server did not start" >&2; exit 1
}
start_node() {  # none|always single|cluster2: with its own Redis
  local name=node-$2-redis-$1 workers=1 node_cpus=1 redis_cpus=0 port
  # The peer's layout (its RESULTS.md): one process on CPU1 with Redis beside wrk on CPU0;
  # the cluster and its Redis placed by the kernel on both CPUs.
  [ "$2" = cluster2 ] && { workers=2; node_cpus=0-1; redis_cpus=0-1; }
  start_redis "$1" "$redis_cpus"
  redis_of[$name]=$redis_pid
  port=$(free_ports 1)
  WORKERS=$workers PORT=$port REDIS_PORT=$redis_port exec_pinned "$node_cpus" \
    node "$peers/server.js" >>"$log" 2>&1 &
  pids[$name]=$!; all_pids+=($!)
  url[$name]=http://127.0.0.1:$port
  wait_http "${url[$name]}/healthz" "${pids[$name]}"
  if [ "$workers" -gt 1 ]; then  # every worker listening
    for _ in $(seq 100); do
      [ "$(children "${pids[$name]}" | wc -w)" -ge "$workers" ] && break
      sleep 0.1
    done
    sleep 0.5
  fi
  pids[$name]+=" $(children "${pids[$name]}")"
}
start_nginx() {
  local dir=$work/nginx-$SECONDS port; port=$(free_ports 1)
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  keepalive_timeout 65;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:$port;
    location / { default_type application/json; return 200 '{"ok":true}'; }
  }
}
EOF
  exec_pinned 1 nginx -p "$dir" -c "$dir/nginx.conf" 2>>"$log" &
  pids[nginx]=$!; all_pids+=($!)
  url[nginx]=http://127.0.0.1:$port
  wait_http "${url[nginx]}/" "${pids[nginx]}"
  pids[nginx]+=" $(children "${pids[nginx]}")"
}

# ---- events (admitd and the Node peer share these routes and fields) ----

post_json() {  # SERVER PATH JSON -> status
  curl -s -o /dev/null -w '%{http_code}' -X POST "${url[$1]}$2" \
    -H 'Content-Type: application/json' -d "$3"
}
new_event() {  # SERVER CAPACITY -> id of a new event (runs in subshells: no counter)
  local id status
  id="ev-$(date +%s%N)"
  status=$(post_json "$1" /v1/events \
    "{\"id\":\"$id\",\"capacity\":$2,\"per_user_max\":1,\"waitlist\":false}")
  [ "$status" = 201 ] || { echo "run.sh: $1: creating event $id answered $status" >&2; exit 1; }
  echo "$id"
}
sold_out_event() {  # SERVER: an event whose only seat is taken
  local id status; id=$(new_event "$1" 1)
  status=$(post_json "$1" "/v1/events/$id/bookings" '{"user":"first","seats":1}')
  [ "$status" = 201 ] || { echo "run.sh: $1: first booking answered $status" >&2; exit 1; }
  echo "$id"
}
confirmed() {  # SERVER EVENT -> its confirmed seats
  curl -sf "${url[$1]}/v1/events/$2" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["confirmed"])'
}

# ---- one wrk run, with CPU accounting ----

hz=$(getconf CLK_TCK)
ticks_of() {  # PIDS... -> utime+stime of them all, threads included (/proc/PID/stat 14, 15)
  local total=0 pid fields
  for pid in "$@"; do
    read -r -a fields < <(sed 's/.*) //' /proc/"$pid"/stat 2>/dev/null) || continue
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}
box_ticks() { awk '/^cpu / { print $2 + $3 + $4 }' /proc/stat; }  # user+nice+system, all CPUs

# wrk_run SERVER LABELS CONNS URL SCRIPT [SCRIPT ARGS...]: appends "server=SERVER LABELS <done()
# line> <cpu>" to $runs and sets `line` to it. cpu_*: % of one CPU during the run; cpu_other:
# everything else on the box (other builds, kernel threads); us_per_request: the server's CPU
# time (its Redis included) per answer.
line=""
wrk_run() {
  local server=$1 labels=$2 conns=$3 target=$4 script=$5 seconds=${wrk_seconds:-$duration}
  shift 5
  local load server0 server1 redis0 redis1 box0 box1 t0 t1 result wrk_cpu cpu
  load=$(cut -d' ' -f1 /proc/loadavg)
  server0=$(ticks_of ${pids[$server]} ${redis_of[$server]:-})
  redis0=$(ticks_of ${redis_of[$server]:-}); box0=$(box_ticks); t0=$(date +%s%N)
  result=$(timeout $((seconds + 30)) /usr/bin/time -f '%U %S' -o "$work/wrk.time" \
    taskset -c 0 nice -n "$priority" wrk -t1 -c"$conns" -d"${seconds}s" --timeout 10s \
    -s "$here/$script" "$target" -- "$@" 2>>"$log" | tail -1)
  t1=$(date +%s%N); box1=$(box_ticks)
  server1=$(ticks_of ${pids[$server]} ${redis_of[$server]:-})
  redis1=$(ticks_of ${redis_of[$server]:-})
  wrk_cpu=$(tail -1 "$work/wrk.time" | awk '{ print $1 + $2 }')
  cpu=$(python3 - "$hz" "$t0" "$t1" "$server0" "$server1" "$redis0" "$redis1" "$box0" "$box1" \
    "$wrk_cpu" "$(sed -n 's/^requests=\([0-9]*\).*/\1/p' <<<"$result")" <<'PY'
import sys
hz, t0, t1, s0, s1, r0, r1, b0, b1, wrk, answers = (float(x or 0) for x in sys.argv[1:])
secs = (t1 - t0) / 1e9
server, redis, box = (s1 - s0) / hz, (r1 - r0) / hz, (b1 - b0) / hz
print(f"cpu_server={100 * (server - redis) / secs:.0f} cpu_redis={100 * redis / secs:.0f} "
      f"cpu_wrk={100 * wrk / secs:.0f} cpu_other={max(0, 100 * (box - server - wrk) / secs):.0f} "
      f"us_per_request={1e6 * server / max(answers, 1):.2f}")
PY
)
  line="server=$server $labels conns=$conns load=$load $result $cpu"
  echo "$line" >>"$runs"
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

fail() { echo "run.sh: CHECK FAILED: $*" | tee -a "$runs" >&2; exit 1; }
passed() { sed -i '$ s/$/ check=pass/' "$runs"; }
show() {  # one progress line per run
  printf '  %-40s %-12s %8s req/s  p50 %6s ms  p99 %7s ms  %5s us/req  other CPU %3s%%\n' \
    "$(field server "$line")" "$(field test "$line") c$(field conns "$line")$(
      [ "$(field pipeline "$line")" = 1 ] || echo "x$(field pipeline "$line")")" \
    "$(field rps "$line")" "$(field p50_ms "$line")" "$(field p99_ms "$line")" \
    "$(field us_per_request "$line")" "$(field cpu_other "$line")" >&2
}
no_socket_errors() {
  for error in err_connect err_read err_write err_timeout; do
    [ "$(field "$error" "$line")" = 0 ] || fail "$error in: $line"
  done
}

# book SERVER CONNS PIPELINE [COUNT]: a fresh event of huge capacity, new users. Every answer
# 2xx, and the seats confirmed are the 2xx answers plus at most the requests wrk had sent
# but not seen answered when it stopped; with COUNT=1, every answer a 201.
book() {
  local event requests sent seats
  event=$(new_event "$1" "$capacity_huge")
  wrk_run "$1" "rep=$rep test=book pipeline=$3" "$2" "${url[$1]}" book.lua \
    "/v1/events/$event/bookings" "$3" u "${4:-0}"
  no_socket_errors
  requests=$(field requests "$line"); sent=$(field sent "$line"); seats=$(confirmed "$1" "$event")
  [ "$(field non2xx "$line")" = 0 ] || fail "answers >= 400 in: $line"
  [ "$seats" -ge "$requests" ] && [ "$seats" -le "$sent" ] ||
    fail "$seats seats confirmed for $requests 2xx answers of $sent sent: $line"
  [ "${4:-0}" = 0 ] || [ "$(field s201 "$line")" = "$requests" ] || fail "not all 201: $line"
  passed
}
# sold_out SERVER CONNS [COUNT]: every answer >= 400 (409 with COUNT=1), nothing more booked
sold_out() {
  local event; event=$(sold_out_event "$1")
  wrk_run "$1" "rep=$rep test=soldout pipeline=1" "$2" "${url[$1]}" book.lua \
    "/v1/events/$event/bookings" 1 u "${3:-0}"
  no_socket_errors
  [ "$(field non2xx "$line")" = "$(field requests "$line")" ] || fail "answers < 400 in: $line"
  [ "$(confirmed "$1" "$event")" = 1 ] || fail "a sold-out event booked more: $line"
  [ "${3:-0}" = 0 ] || [ "$(field s409 "$line")" = "$(field requests "$line")" ] ||
    fail "not all 409: $line"
  passed
}
# get SERVER CONNS PATH [COUNT]: every answer 2xx (200 with COUNT=1)
get() {
  wrk_run "$1" "rep=$rep test=get pipeline=1" "$2" "${url[$1]}$3" get.lua "${4:-0}"
  no_socket_errors
  [ "$(field non2xx "$line")" = 0 ] || fail "answers >= 400 in: $line"
  [ "${4:-0}" = 0 ] || [ "$(field s200 "$line")" = "$(field requests "$line")" ] ||
    fail "not all 200: $line"
  passed
}
# post SERVER CONNS: book.lua's POSTs to nginx's fixed 200
post() {
  wrk_run "$1" "rep=$rep test=post pipeline=1" "$2" "${url[$1]}" book.lua / 1 u 0
  no_socket_errors
  [ "$(field non2xx "$line")" = 0 ] || fail "answers >= 400 in: $line"
  passed
}
warm_up() {  # SERVER SECONDS PATH: bookings (or POSTs), not recorded
  timeout 30 taskset -c 0 nice -n "$priority" wrk -t1 -c50 -d"$2s" -s "$here/book.lua" \
    "${url[$1]}" -- "$3" 1 "warm$rep-" >/dev/null 2>>"$log"
}

# ---- a pass ----

admitd_servers=(admitd-off admitd-strict)
node_servers=()
start_pass() {
  local server
  start_admitd off
  start_admitd strict
  if [ "$do_peers" = yes ]; then
    node_servers=()
    for persistence in none always; do
      for layout in single cluster2; do
        start_node "$persistence" "$layout"
        node_servers+=("node-$layout-redis-$persistence")
      done
    done
    start_nginx
    warm_up nginx "$warmup_seconds" /
    for server in "${node_servers[@]}"; do
      warm_up "$server" "$node_warmup_seconds" "/v1/events/$(new_event "$server" "$capacity_huge")/bookings"
    done
  fi
  for server in "${admitd_servers[@]}"; do
    warm_up "$server" "$warmup_seconds" "/v1/events/$(new_event "$server" "$capacity_huge")/bookings"
  done
}

# Short runs whose wrk counts every answer's status (too slow for the timed runs): 201 for
# every booking, 409 for every sold-out attempt, 200 for every GET.
status_checks() {
  local saved=$runs c=${connections%% *}; runs=$out/checks.txt
  for server in "${admitd_servers[@]}"; do
    wrk_seconds=$check_seconds book "$server" "$c" 1 1
    wrk_seconds=$check_seconds book "$server" "$c" "$pipeline" 1
  done
  wrk_seconds=$check_seconds sold_out admitd-off "$c" 1
  wrk_seconds=$check_seconds get admitd-off "$c" "/v1/events/$(new_event admitd-off 10)" 1
  runs=$saved
  echo "  status checks passed: every answer 201 (book), 409 (sold out), 200 (GET)" >&2
}

run_pass() {
  local c server get_event
  get_event=$(new_event admitd-off 10)
  for c in $connections; do
    for server in "${admitd_servers[@]}" "${node_servers[@]}"; do book "$server" "$c" 1; show; done
    get admitd-off "$c" "/v1/events/$get_event"; show
    sold_out admitd-off "$c"; show
    if [ "$do_peers" = yes ]; then
      get nginx "$c" /; show
      post nginx "$c"; show
    fi
  done
  for server in "${admitd_servers[@]}"; do book "$server" "${connections%% *}" "$pipeline"; show; done
}

versions="admitd=$(git -C "$root" describe --always --dirty)"
versions+=" wrk=$( (wrk -v 2>&1 || true) | head -1 | awk '{print $2}')"
[ "$do_peers" = yes ] && versions+=" node=$(node --version) redis=$(redis-server --version |
  sed 's/.*v=\([^ ]*\).*/\1/') nginx=$(nginx -v 2>&1 | sed 's|.*nginx/||')"
echo "# bench/http $stamp duration=$duration repeat=$repeat connections=\"$connections\"" \
  "pipeline=$pipeline nice=$priority $versions kernel=$(uname -r) nproc=$(nproc)" \
  "uptime=\"$(uptime)\"" | tee "$out/meta.txt" >&2

started=$SECONDS
for rep in $(seq "$repeat"); do
  echo "pass $rep of $repeat ($((SECONDS - started)) s)" >&2
  start_pass
  [ "$rep" = 1 ] && status_checks
  run_pass
  stop_all
done
echo "done in $((SECONDS - started)) s; every run's checks passed" >&2
echo "# end $(date -u +%H:%M:%S) uptime=\"$(uptime)\"" >>"$out/meta.txt"

python3 "$here/summarize.py" --meta "$out/meta.txt" --json "$out/summary.json" "$runs" |
  tee "$out/summary.txt"
echo "runs: $runs  json: $out/summary.json  table: $out/summary.txt" >&2
