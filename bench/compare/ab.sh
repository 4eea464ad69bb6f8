#!/usr/bin/env bash
# Two builds of admitd side by side in one sitting: the same admit-bench
# workloads on each, alternating A and B in every round, so that what else
# the machine does weighs on both alike. For a change that claims "no worse"
# or "faster": the ratio B/A of requests/s and of the server's CPU per request.
#
#   bench/compare/ab.sh --a ADMITD_A --b ADMITD_B [--bench ADMIT_BENCH]
#                       [--duration S] [--repeat N] [--connections C]
#                       [--server-cpu N] [--client-cpu N] [--no-pin]
#
# Workloads (admitd --shards 1, C connections, plenty of seats unless sold out):
#   unpipelined         1 request in flight per connection, --durability off
#   pipelined P64       64 in flight, --durability off
#   sold out P64        capacity 1: every answer but one is SOLD_OUT, off
#   strict P64          64 in flight, --durability strict
# Split and pinned by default as compare.sh: admitd on CPU 1, admit-bench on
# CPU 0. The server's CPU per request comes from /proc/PID/stat (so builds
# without CPU in their Stats compare too). Medians of --repeat rounds.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
admitd_a="" admitd_b=""
admit_bench=$root/build-release/bench/admit-bench/admit-bench
duration=5
repeat=3
connections=50
shards=1
server_cpu=1
client_cpu=0
pin=yes

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --a) admitd_a=$2; shift 2 ;;
    --b) admitd_b=$2; shift 2 ;;
    --bench) admit_bench=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --server-cpu) server_cpu=$2; shift 2 ;;
    --client-cpu) client_cpu=$2; shift 2 ;;
    --no-pin) pin=no; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "ab.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
  esac
done
for binary in "$admitd_a" "$admitd_b" "$admit_bench"; do
  [ -n "$binary" ] && [ -x "$binary" ] ||
    { echo "ab.sh: '$binary' is not an executable (--a and --b name two admitd; see --help)" >&2
      exit 2; }
done
for number in "$duration" "$repeat" "$connections"; do
  [[ "$number" =~ ^[0-9]+$ ]] && [ "$number" -gt 0 ] ||
    { echo "ab.sh: '$number' is not a positive integer" >&2; exit 2; }
done
[ "$duration" -le 60 ] || { echo "ab.sh: --duration is at most 60 s" >&2; exit 2; }
server_pin=() client_pin=()
if [ "$pin" = yes ]; then
  server_pin=(taskset -c "$server_cpu") client_pin=(taskset -c "$client_cpu")
fi

tmp=$(mktemp -d /tmp/admit-ab-XXXXXX)
admitd_pid=""
cleanup() {
  [ -n "$admitd_pid" ] && kill "$admitd_pid" 2>/dev/null && wait "$admitd_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=common.sh
source "$here/common.sh"

# run_one ADMITD MODE PIPELINE CAPACITY -> "rps server_cpu_us_per_request verdict"
# (verdict S: admitd did not start, why on stderr; no admit-bench verdict)
run_one() {
  start_admitd "$2" "$1" || { echo "0 0 S"; return 0; }
  local before after json rps attempts verdict
  before=$(cpu_us_of "$admitd_pid")
  json=$("${client_pin[@]}" "$admit_bench" --server "$admit_address" --json throughput \
    --connections "$connections" --pipeline "$3" --duration "$duration" --capacity "$4" \
    --users 0 --verify-max 1) || true
  after=$(cpu_us_of "$admitd_pid")
  stop_admitd
  read -r rps attempts verdict < <(echo "$json" | admit_fields throughput_rps attempts verdict)
  if [ "$verdict" != PASS ]; then  # which checks failed, on stderr beside the table's F
    echo "ab.sh: $1 --durability $2 P$3 capacity $4: FAIL: $(echo "$json" | python3 -c '
import json, sys
run = json.load(sys.stdin)
print(", ".join(name for name, ok in run.get("invariants", {}).items() if not ok) or "no JSON",
      run.get("outcomes", {}))' 2>&1)" >&2
  fi
  # The CPU of the whole run (start, load, verdict) over the requests: both
  # builds pay the same start and verdict.
  echo "$rps $(python3 -c "print(($after - $before) / max(1, $attempts))") ${verdict:0:1}"
}

row() { printf '%-22s %12s %12s %7s %11s %11s %7s %s\n' "$@"; }
# B/A; nan when either is nan (no run) or A is 0.
ratio() { python3 -c "b = float('$2'); print(f'{float(\"$1\") / b:.3f}' if b > 0 else 'nan')"; }

workloads=("unpipelined|off|1|1000000000" "pipelined P64|off|64|1000000000"
  "sold out P64|off|64|1" "strict P64|strict|64|1000000000")
declare -A rates cpus verdicts
for round in $(seq "$repeat"); do
  echo "round $round of $repeat..." >&2
  for workload in "${workloads[@]}"; do
    IFS='|' read -r name mode depth capacity <<<"$workload"
    for side in a b; do
      binary=$admitd_a
      [ "$side" = b ] && binary=$admitd_b
      read -r rps cpu verdict < <(run_one "$binary" "$mode" "$depth" "$capacity")
      verdicts[$name,$side]+=$verdict
      [ "$verdict" = S ] && continue  # no run: no figures
      rates[$name,$side]+=" $rps"; cpus[$name,$side]+=" $cpu"
    done
  done
done

echo "A: $admitd_a"
echo "B: $admitd_b"
echo "admitd --shards $shards; $connections connections; ${duration} s per run; medians of $repeat" \
  "rounds (A, B alternating); (P)ASS/(F)AIL: admit-bench verdicts; S: admitd did not start" \
  "(not in the medians)"
row workload "A req/s" "B req/s" "B/A" "A us/req" "B us/req" "B/A" verdicts
for workload in "${workloads[@]}"; do
  name=${workload%%|*}
  # shellcheck disable=SC2086  # (none when admitd never started)
  a_rps=$(median ${rates[$name,a]-}) b_rps=$(median ${rates[$name,b]-})
  # shellcheck disable=SC2086
  a_cpu=$(median ${cpus[$name,a]-}) b_cpu=$(median ${cpus[$name,b]-})
  row "$name" "$(printf '%.0f' "$a_rps")" "$(printf '%.0f' "$b_rps")" "$(ratio "$b_rps" "$a_rps")" \
    "$(printf '%.3f' "$a_cpu")" "$(printf '%.3f' "$b_cpu")" "$(ratio "$b_cpu" "$a_cpu")" \
    "A ${verdicts[$name,a]} B ${verdicts[$name,b]}"
done
