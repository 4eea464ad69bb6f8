#!/usr/bin/env bash
# Unpipelined Admit against the loopback ceiling of this box, in one sitting
# (issue 11's target: 50 x 1 bookings at >= 80 % of an io_uring echo of 64-byte
# messages at 50 x 1, p99 <= 1 ms). Each round runs the probes' echo server and
# client, then admitd and admit-bench, the same pinning for both (server on
# --server-cpu, load on --client-cpu), so what else the machine does weighs on
# both alike. Prints the medians and their ratio.
#
#   bench/compare/echo_ceiling.sh [--admitd ADMITD] [--bench ADMIT_BENCH]
#       [--probes DIR] [--duration S] [--repeat N] [--connections C]
#       [--server-cpu N] [--client-cpu N]
#
# --probes: the folder of echo_uring.c and echo_client.c (default
# ../shared/probes beside the repository). Needs gcc and liburing's headers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
admitd=$root/build-release/server/admitd
admit_bench=$root/build-release/bench/admit-bench/admit-bench
probes=$root/../shared/probes
duration=5 repeat=3 connections=50 server_cpu=1 client_cpu=0 shards=1

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --admitd) admitd=$2; shift 2 ;;
    --bench) admit_bench=$2; shift 2 ;;
    --probes) probes=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --server-cpu) server_cpu=$2; shift 2 ;;
    --client-cpu) client_cpu=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "echo_ceiling.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
  esac
done
for binary in "$admitd" "$admit_bench"; do
  [ -x "$binary" ] || { echo "echo_ceiling.sh: '$binary' is not an executable" >&2; exit 2; }
done
for file in echo_uring.c echo_client.c; do
  [ -f "$probes/$file" ] || { echo "echo_ceiling.sh: no $file in '$probes' (--probes)" >&2; exit 2; }
done
for number in "$duration" "$repeat" "$connections"; do
  [[ "$number" =~ ^[0-9]+$ ]] && [ "$number" -gt 0 ] ||
    { echo "echo_ceiling.sh: '$number' is not a positive integer" >&2; exit 2; }
done
[ "$duration" -le 60 ] || { echo "echo_ceiling.sh: --duration is at most 60 s" >&2; exit 2; }
server_pin=(taskset -c "$server_cpu") client_pin=(taskset -c "$client_cpu")

tmp=$(mktemp -d /tmp/admit-echo-XXXXXX)
admitd_pid="" echo_pid=""
cleanup() {
  [ -n "$admitd_pid" ] && kill "$admitd_pid" 2>/dev/null && wait "$admitd_pid" 2>/dev/null
  [ -n "$echo_pid" ] && kill "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=common.sh
source "$here/common.sh"
gcc -O2 -o "$tmp/echo_uring" "$probes/echo_uring.c" -luring
gcc -O2 -o "$tmp/echo_client" "$probes/echo_client.c"

# -> "messages/s p99_us"
run_echo() {
  local port line
  port=$(free_ports 1)
  "${server_pin[@]}" "$tmp/echo_uring" "$port" defer >"$tmp/echo.log" 2>&1 &
  echo_pid=$!
  for _ in $(seq 100); do
    ss -ltn "sport = :$port" | grep -q LISTEN && break
    sleep 0.05
  done
  line=$(timeout $((duration + 20)) "${client_pin[@]}" "$tmp/echo_client" "$port" \
    "$connections" 1 "$duration" 64 1)
  kill "$echo_pid"; wait "$echo_pid" 2>/dev/null || true
  echo_pid=""
  python3 -c '
import sys
fields = dict(kv.split("=", 1) for kv in sys.argv[1].split() if "=" in kv)
print(fields["msgs_per_s"], fields["lat_p99_us"])' "$line"
}

# -> "bookings/s p99_us verdict client_cpu_us server_cpu_us" (CPU per booking;
# verdict S: admitd did not start, why on stderr)
run_admit() {
  start_admitd off || { echo "0 0 S 0 0"; return 0; }
  local json
  json=$("${client_pin[@]}" "$admit_bench" --server "$admit_address" --json throughput \
    --connections "$connections" --pipeline 1 --duration "$duration" --capacity 1000000000 \
    --users 0 --verify-max 1) || true
  stop_admitd
  echo "$json" | admit_fields throughput_rps latency_us.p99 verdict per_request.client_cpu_us \
    per_request.server_cpu_us
}

declare -a echo_rates echo_p99s admit_rates admit_p99s client_cpus server_cpus
verdicts=""
for round in $(seq "$repeat"); do
  echo "round $round of $repeat..." >&2
  read -r rate p99 < <(run_echo)
  echo_rates+=("$rate") echo_p99s+=("$p99")
  read -r rate p99 verdict bench_us server_us < <(run_admit)
  verdicts+=${verdict:0:1}
  [ "$verdict" = S ] && continue  # no run: no figures
  admit_rates+=("$rate") admit_p99s+=("$p99")
  client_cpus+=("$bench_us") server_cpus+=("$server_us")
done

echo_rate=$(median "${echo_rates[@]}") admit_rate=$(median "${admit_rates[@]}")
echo "$connections connections x 1 in flight; server on CPU $server_cpu, load on CPU $client_cpu;" \
  "${duration} s per run; medians of $repeat rounds (echo, then Admit, in each)"
printf '%-34s %12s %10s\n' "" "per second" "p99 (us)"
printf '%-34s %12.0f %10.1f\n' "io_uring echo, 64-byte messages" "$echo_rate" \
  "$(median "${echo_p99s[@]}")"
printf '%-34s %12.0f %10.1f   verdicts %s\n' "Admit bookings (durability off)" "$admit_rate" \
  "$(median "${admit_p99s[@]}")" "$verdicts"
python3 -c "print(f'Admit / echo: {float(\"$admit_rate\") / max(1.0, $echo_rate):.3f}')"
# Which side limits Admit: the CPU each spends per booking (a pinned side
# near 1e6 / rate us is saturated).
printf 'CPU per booking (us): admit-bench %.2f, admitd %.2f; saturation at this rate: %.2f\n' \
  "$(median "${client_cpus[@]}")" "$(median "${server_cpus[@]}")" \
  "$(python3 -c "rate = float('$admit_rate'); print(1e6 / rate if rate > 0 else 'nan')")"
