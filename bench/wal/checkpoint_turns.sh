#!/usr/bin/env bash
# Reactor turns while checkpoints run: one shard holding 10 M bookings,
# checkpoints every 10 s (~470 MB each), open-loop load at 5 000 bookings/s.
# For each of three 30 s runs, the turns that took over 2.5 and 5 ms (wall)
# and the longest one's histogram bucket, from the difference of admitd's
# admit_reactor_turn_seconds scraped before and after, beside admit-bench's
# latency. Needs ~3 GB of memory and ~5 GB in /tmp; takes ~3 minutes.
#
#   bench/wal/checkpoint_turns.sh [BUILD_DIR]     (default build-release: ./dev bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-release}
admitd=$build/server/admitd bench=$build/bench/admit-bench/admit-bench
for binary in "$admitd" "$bench"; do
  [ -x "$binary" ] || { echo "checkpoint_turns.sh: $binary not found; run ./dev bench" >&2; exit 2; }
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
http=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d /tmp/admit-turns-XXXXXX)
"$admitd" --shards 1 --listen "127.0.0.1:$port" --http "127.0.0.1:$http" --data "$dir/data" \
  --durability batched --checkpoint-records 1000000 --checkpoint-seconds 10 \
  --users-reserved 12000000 >"$dir/out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q "admitd ready" "$dir/out" && break; sleep 0.1; done
grep -q "admitd ready" "$dir/out" || { cat "$dir/out" >&2; exit 1; }

turn_buckets() {
  curl -s "127.0.0.1:$http/metrics" | sed -n 's/^admit_reactor_turn_seconds_bucket{.*le="\([^"]*\)"} /\1 /p'
}
echo "loading 10 M bookings (60 s)..." >&2
"$bench" --server "127.0.0.1:$port" --json throughput --connections 50 --pipeline 64 --events 1 \
  --capacity 10000000 --duration 60 --verify-max 1 |
  python3 -c 'import json,sys; r=json.load(sys.stdin); print("loaded:", r["outcomes"].get("BOOKED", 0), "bookings,", r["verdict"])'
for run in 1 2 3; do
  turn_buckets >"$dir/before"
  "$bench" --server "127.0.0.1:$port" --json throughput --connections 50 --rate 5000 --duration 30 \
    --verify-max 1 >"$dir/run.json"
  turn_buckets >"$dir/after"
  python3 - "$dir/before" "$dir/after" "$dir/run.json" "$run" <<'PY'
import json, sys
before = dict(line.split() for line in open(sys.argv[1]))
after = dict(line.split() for line in open(sys.argv[2]))
run = json.load(open(sys.argv[3]))
bounds = list(after)
delta = {k: int(float(after[k])) - int(float(before[k])) for k in bounds}
total = delta["+Inf"]
longest = next(k for k in bounds if delta[k] == total)
i = bounds.index(longest)
lower = bounds[i - 1] if i > 0 else "0"
latency = run["latency_us"]
print(f"run {sys.argv[4]}: {total} turns, {total - delta['0.005']} over 5 ms, "
      f"{total - delta['0.0025']} over 2.5 ms, longest in ({lower}, {longest}] s; "
      f"p999 {latency['p999'] / 1000:.1f} ms, max {latency['max'] / 1000:.1f} ms; "
      f"{run['throughput_rps']:.0f} answered/s; {run['verdict']}")
PY
done
