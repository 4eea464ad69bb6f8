#!/usr/bin/env bash
# Admit vs Redis 7 (+ a Lua script doing the same atomic check) on this
# machine, loopback only, bounded durations. Starts and stops its own
# redis-server and admitd on free ports with temporary folders.
#
#   bench/compare/compare.sh [--build DIR] [--duration S] [--repeat N]
#                            [--connections C] [--pipelines "P..."] [--shards N]
#                            [--server-cpu N] [--client-cpu N] [--no-pin] [--no-strict]
#                            [--also-unbatched]
#
# Workloads, each on both systems:
#   flash-sale 300/10/10   300 clients at once, 10 seats, 10 each: time and correctness
#   book, unpipelined      C connections, 1 request in flight each, plenty of seats
#   book, pipelined        C connections, P in flight each (redis-benchmark -P P), per P
#   book, sold out         pipelined, capacity 1: every answer but one is SOLD_OUT, per P
# admit-bench's AsyncClient packs pipelined Books of one event into BookBatch
# requests; --also-unbatched adds the pipelined rows again with one Book
# request per booking (admit-bench --no-book-batching), as Redis gets them.
# Durability: Redis without persistence vs Admit --durability off; then Redis
# appendfsync always vs Admit --durability strict (skipped if admitd refuses it).
# Each figure is the median of --repeat runs.
#
# The reference configuration is split and pinned: the server (redis-server,
# or admitd --shards 1) on CPU --server-cpu (1), the load generator
# (redis-benchmark, admit-bench) on CPU --client-cpu (0), so neither steals
# the other's core. "srv us/req" is the server's CPU time per request, kernel
# included (/proc/PID/stat for Redis, admitd's Stats for Admit): stable on a
# noisy machine where requests per second are not.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build
duration=5
repeat=1
connections=50
pipelines="16 64"
shards=1
server_cpu=1
client_cpu=0
pin=yes
strict=yes
also_unbatched=no

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --pipelines) pipelines=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --server-cpu) server_cpu=$2; shift 2 ;;
    --client-cpu) client_cpu=$2; shift 2 ;;
    --no-pin) pin=no; shift ;;
    --no-strict) strict=no; shift ;;
    --also-unbatched) also_unbatched=yes; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
  esac
done
for number in "$duration" "$repeat" "$connections" $pipelines "$shards"; do
  [[ "$number" =~ ^[0-9]+$ ]] && [ "$number" -gt 0 ] ||
    { echo "compare.sh: '$number' is not a positive integer" >&2; exit 2; }
done
[ -n "$pipelines" ] || { echo "compare.sh: --pipelines names at least one depth" >&2; exit 2; }
# taskset prefixes: empty with --no-pin.
server_pin=() client_pin=()
if [ "$pin" = yes ]; then
  cpus=$(nproc)
  for cpu in "$server_cpu" "$client_cpu"; do
    [[ "$cpu" =~ ^[0-9]+$ ]] && [ "$cpu" -lt "$cpus" ] ||
      { echo "compare.sh: CPU '$cpu' is not one of this machine's 0..$((cpus - 1))" >&2; exit 2; }
  done
  server_pin=(taskset -c "$server_cpu") client_pin=(taskset -c "$client_cpu")
fi
[ "$duration" -le 60 ] || { echo "compare.sh: --duration is at most 60 s" >&2; exit 2; }

# The binary sits at build/bench/admit-bench/admit-bench (meson's subdir) or
# build/bench/admit-bench when installed there.
admit_bench=${ADMIT_BENCH:-$build/bench/admit-bench/admit-bench}
[ -f "$admit_bench" ] || [ ! -f "$build/bench/admit-bench" ] || admit_bench=$build/bench/admit-bench
admitd=${ADMITD:-$build/server/admitd}
for binary in "$admit_bench" "$admitd"; do
  [ -x "$binary" ] ||
    { echo "compare.sh: $binary not found; build first (or --build DIR)" >&2; exit 2; }
done

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  echo "compare.sh: installing redis-server (Debian package)" >&2
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    redis-server redis-tools >/dev/null
fi

tmp=$(mktemp -d /tmp/admit-compare-XXXXXX)
redis_pid=""
admitd_pid=""
cleanup() {
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  [ -n "$admitd_pid" ] && kill "$admitd_pid" 2>/dev/null && wait "$admitd_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=common.sh
source "$here/common.sh"




# ---- Redis ----

redis_port=""
redis_sha=""

# start_redis off|always
start_redis() {
  redis_port=$(free_ports 1)
  local dir=$tmp/redis-$1
  mkdir -p "$dir"
  local persistence=(--save '' --appendonly no)
  [ "$1" = always ] && persistence=(--save '' --appendonly yes --appendfsync always)
  "${server_pin[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --protected-mode yes \
    --daemonize no --logfile "$dir/redis.log" "${persistence[@]}" &
  redis_pid=$!
  for _ in $(seq 100); do
    [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && break
    sleep 0.1
  done
  [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] ||
    { echo "compare.sh: redis-server did not start:" >&2; cat "$dir/redis.log" >&2; exit 1; }
  redis_sha=$(redis-cli -p "$redis_port" SCRIPT LOAD "$(cat "$here/book.lua")")
}

stop_redis() {
  kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
  redis_pid=""
}

redis_reset() {  # capacity
  redis-cli -p "$redis_port" FLUSHALL >/dev/null
  redis-cli -p "$redis_port" SET ev:avail "$1" >/dev/null
}

# redis_book CONNECTIONS PIPELINE REQUESTS SEATS -> "rps p99_ms"
redis_book() {
  "${client_pin[@]}" redis-benchmark -p "$redis_port" -c "$1" -P "$2" -n "$3" -r 1000000000 --csv \
    EVALSHA "$redis_sha" 3 ev:avail ev:bookings ev:seq "user:__rand_int__" "$4" 2>/dev/null |
    python3 -c '
import csv, sys
rows = list(csv.reader(sys.stdin))
header, last = rows[0], rows[-1]
print(last[header.index("rps")], last[header.index("p99_latency_ms")])'
}

# Requests that take about `duration` seconds, from a short calibration run.
redis_requests_for() {  # CONNECTIONS PIPELINE
  local calibration=$(( 20000 * $2 ))
  local rps
  rps=$(redis_book "$1" "$2" "$calibration" 1 | cut -d' ' -f1)
  python3 -c "print(max(20000, min(200_000_000, int(float('$rps') * $duration))))"
}

# redis_throughput CONNECTIONS PIPELINE CAPACITY -> "rps p99_ms server_cpu_us_per_request"
# (medians of $repeat)
redis_throughput() {
  local requests rates=() p99s=() cpus=() before after
  requests=$(redis_requests_for "$1" "$2")
  for _ in $(seq "$repeat"); do
    redis_reset "$3"
    before=$(cpu_us_of "$redis_pid")
    read -r rps p99 < <(redis_book "$1" "$2" "$requests" 1)
    after=$(cpu_us_of "$redis_pid")
    rates+=("$rps"); p99s+=("$p99")
    cpus+=("$(python3 -c "print(($after - $before) / $requests)")")
  done
  echo "$(median "${rates[@]}") $(median "${p99s[@]}") $(median "${cpus[@]}")"
}

# 300 clients at once for 10 seats, 10 each: "elapsed_ms booked_users seats_left"
redis_flash_sale() {
  redis_reset 10
  local rps
  rps=$(redis_book 300 1 300 10 | cut -d' ' -f1)
  local booked left
  booked=$(redis-cli -p "$redis_port" HLEN ev:bookings)
  left=$(redis-cli -p "$redis_port" GET ev:avail)
  echo "$(python3 -c "print(round(300 / float('$rps') * 1000, 2))") $booked $left"
}

# ---- Admit ----

# admit_throughput CONNECTIONS PIPELINE CAPACITY [ADMIT_BENCH_FLAG...]
#   -> "rps p99_ms server_cpu_us_per_request verdicts" (medians of $repeat)
admit_throughput() {
  local rates=() p99s=() cpus=() verdicts=""
  for _ in $(seq "$repeat"); do
    local json
    json=$("${client_pin[@]}" "$admit_bench" --server "$admit_address" --json throughput \
      --connections "$1" --pipeline "$2" --duration "$duration" --capacity "$3" --users 0 \
      "${@:4}") || true
    read -r rps p99 cpu verdict < <(echo "$json" |
      admit_fields throughput_rps latency_us.p99 per_request.server_cpu_us verdict)
    rates+=("$rps"); p99s+=("$(python3 -c "print(round(float('$p99') / 1000, 3))")")
    cpus+=("$cpu")
    verdicts+="${verdict:0:1}"
  done
  echo "$(median "${rates[@]}") $(median "${p99s[@]}") $(median "${cpus[@]}") $verdicts"
}

# "elapsed_ms booked_users verdict"
admit_flash_sale() {
  local json
  json=$("${client_pin[@]}" "$admit_bench" --server "$admit_address" --json flash-sale --users 300 --capacity 10 \
    --seats 10) || true
  echo "$json" | python3 -c '
import json, sys
run = json.load(sys.stdin)
print(round(run["elapsed_s"] * 1000, 2), run["outcomes"].get("BOOKED", 0), run["verdict"])'
}

# ---- the table ----

row() { printf '%-34s %14s %9s %10s %14s %9s %10s %8s\n' "$@"; }
ratio() { python3 -c "print(f'{float(\"$1\") / float(\"$2\"):.2f}x')"; }

compare_throughput() {  # LABEL CONNECTIONS PIPELINE CAPACITY [ADMIT_BENCH_FLAG...]
  read -r redis_rps redis_p99 redis_cpu < <(redis_throughput "$2" "$3" "$4")
  read -r admit_rps admit_p99 admit_cpu admit_verdicts < <(admit_throughput "${@:2}")
  row "$1" "$(printf '%.0f' "$redis_rps")" "$(printf '%.2f' "$redis_p99")" \
    "$(printf '%.3f' "$redis_cpu")" "$(printf '%.0f' "$admit_rps") ($admit_verdicts)" \
    "$(printf '%.2f' "$admit_p99")" "$(printf '%.3f' "$admit_cpu")" \
    "$(ratio "$admit_rps" "$redis_rps")"
}

run_mode() {  # REDIS_MODE ADMIT_MODE
  start_redis "$1"
  if ! start_admitd "$2"; then
    stop_redis
    echo "(Admit --durability $2 not available: Redis appendfsync $1 not compared)"
    return 0
  fi
  echo
  local redis_mode="appendfsync $1"
  [ "$1" = off ] && redis_mode="no persistence"
  echo "== Redis $redis_mode vs Admit --durability $2 =="
  row workload "redis req/s" "p99 ms" "srv us/req" "admit req/s" "p99 ms" "srv us/req" \
    admit/redis
  read -r redis_ms redis_booked redis_left < <(redis_flash_sale)
  read -r admit_ms admit_booked admit_verdict < <(admit_flash_sale)
  row "flash-sale 300/10/10 (ms, winners)" "$redis_ms ms" "$redis_booked won" "" \
    "$admit_ms ms" "$admit_booked won" "" "$admit_verdict"
  [ "$redis_booked" = 1 ] && [ "$redis_left" = 0 ] ||
    echo "  Redis flash-sale: $redis_booked winners, $redis_left seats left (expected 1, 0)"
  compare_throughput "book, unpipelined (c$connections)" "$connections" 1 1000000000
  local depth
  for depth in $pipelines; do
    compare_throughput "book, pipelined (c$connections P$depth)" "$connections" "$depth" 1000000000
  done
  for depth in $pipelines; do
    compare_throughput "sold out, pipelined (c$connections P$depth)" "$connections" "$depth" 1
  done
  if [ "$also_unbatched" = yes ]; then
    for depth in $pipelines; do
      compare_throughput "book, P$depth, one Book per request" "$connections" "$depth" 1000000000 \
        --no-book-batching
      compare_throughput "sold out, P$depth, one Book per req." "$connections" "$depth" 1 \
        --no-book-batching
    done
  fi
  stop_admitd
  stop_redis
}

redis_version=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
placement="unpinned"
[ "$pin" = yes ] && placement="servers on CPU $server_cpu, load generators on CPU $client_cpu"
echo "Admit vs Redis $redis_version + Lua on $(nproc) cores, loopback; admitd --shards $shards;" \
  "$placement; ${duration} s per run, median of $repeat; (P)ASS/(F)AIL: admit-bench verdicts"
run_mode off off
[ "$strict" = yes ] && run_mode always strict
exit 0
