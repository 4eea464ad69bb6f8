#!/usr/bin/env bash
# The training run of a profile-guided build of admitd (./dev bench --pgo):
# the workloads of bench/compare/ab.sh and compare.sh, a few seconds each,
# against ADMITD built with -Db_pgo=generate, which writes its profile when
# SIGTERM stops it. Loopback only; each admitd is stopped by its pid.
#
#   bench/pgo/train.sh ADMITD ADMIT_BENCH [SECONDS_PER_WORKLOAD (default 3)]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
admitd=$1 admit_bench=$2 seconds=${3:-3}
for binary in "$admitd" "$admit_bench"; do
  [ -x "$binary" ] || { echo "train.sh: '$binary' is not an executable" >&2; exit 2; }
done
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 1 ] && [ "$seconds" -le 60 ] ||
  { echo "train.sh: seconds per workload must be 1..60, not '$seconds'" >&2; exit 2; }
shards=1 server_pin=()
tmp=$(mktemp -d /tmp/admit-pgo-XXXXXX)
admitd_pid=""
cleanup() {
  [ -n "$admitd_pid" ] && kill "$admitd_pid" 2>/dev/null && wait "$admitd_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=../compare/common.sh
source "$here/../compare/common.sh"

# unpipelined, pipelined batched and not, sold out, at both durabilities
workloads=("--pipeline 1" "--pipeline 16" "--pipeline 64" "--pipeline 64 --no-book-batching"
  "--pipeline 64 --capacity 1")
for mode in off strict; do
  start_admitd "$mode" || exit 1
  for workload in "${workloads[@]}"; do
    echo "train.sh: --durability $mode, $workload" >&2
    # shellcheck disable=SC2086  # the workload is several flags
    "$admit_bench" --server "$admit_address" throughput --connections 50 --duration "$seconds" \
      --users 0 $workload >/dev/null
  done
  stop_admitd
done
