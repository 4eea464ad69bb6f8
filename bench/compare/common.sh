# Shell functions the scripts of bench/compare/ share (sourced, not run).
# Admitd and load generators on loopback only; each process they start is
# stopped by its pid.

# A base port with `span` free ports from it on 127.0.0.1, and free at each
# further OFFSET from it: free_ports SPAN [OFFSET...].
free_ports() {
  python3 - "$@" <<'PY'
import random, socket, sys
span = int(sys.argv[1])
offsets = [int(offset) for offset in sys.argv[2:]]
for _ in range(200):
    base = random.randint(20000, 60000 - max([span, *offsets]))
    sockets = []
    try:
        for port in [*range(base, base + span), *(base + offset for offset in offsets)]:
            s = socket.socket(); s.bind(("127.0.0.1", port)); sockets.append(s)
        print(base); sys.exit(0)
    except OSError:
        pass
    finally:
        for s in sockets: s.close()
sys.exit("no free port range")
PY
}

# The median of the arguments; nan when there are none.
median() {
  python3 -c '
import statistics, sys
values = [float(x) for x in sys.argv[1:]]
print(statistics.median(values) if values else "nan")' "$@"
}

# A process's CPU time so far in microseconds, user + system (/proc/PID/stat
# fields 14 and 15, in clock ticks).
cpu_us_of() {
  python3 - "$1" <<'PY'
import os, sys
stat = open(f"/proc/{sys.argv[1]}/stat").read()
fields = stat[stat.rindex(")") + 2:].split()
print((int(fields[11]) + int(fields[12])) * 1_000_000 // os.sysconf("SC_CLK_TCK"))
PY
}

# admitd listens on its base port, on base + 1 + i for each shard i and, by
# default, for HTTP on base + 80 (server/server_options.cc). The scripts leave
# --http at its default, so that builds from before it compare too, and check
# that port free with the others: on this range it is often an ephemeral port
# in TIME_WAIT from the benchmark's own earlier connections.
admitd_http_port_offset=80
# A port checked free can still be taken before admitd binds it: admitd is
# started again on others, a bounded number of times.
admitd_start_tries=3

# start_admitd off|strict [ADMITD]: sets admitd_pid, admit_address and
# admit_dir (its data and output, removed by stop_admitd); false (and why, on
# stderr) when admitd refuses the mode or does not start. Uses $admitd (or
# ADMITD), $shards, $server_pin and $tmp of the script.
start_admitd() {
  local try why
  for try in $(seq "$admitd_start_tries"); do
    start_admitd_once "$@" && return 0
    why=$(head -c 300 "$admit_dir/err")
    rm -rf "$admit_dir"
    [[ "$why" == *"already in use"* ]] || break
    echo "$(basename "$0"): admitd start $try of $admitd_start_tries: $why" >&2
  done
  echo "$(basename "$0"): ${2:-$admitd} --durability $1 did not start: $why" >&2
  return 1
}

# One try of start_admitd on new free ports; false when admitd exits or is
# not ready in 10 s.
start_admitd_once() {
  local binary=${2:-$admitd} port
  port=$(free_ports $((shards + 1)) "$admitd_http_port_offset")
  admit_address=127.0.0.1:$port
  admit_dir=$(mktemp -d "$tmp/admit-$1-XXXX")
  local dir=$admit_dir
  "${server_pin[@]}" "$binary" --listen "$admit_address" --shards "$shards" --data "$dir/data" \
    --durability "$1" >"$dir/out" 2>"$dir/err" &
  admitd_pid=$!
  for _ in $(seq 200); do
    grep -q "admitd ready" "$dir/out" 2>/dev/null && return 0
    kill -0 "$admitd_pid" 2>/dev/null || break
    sleep 0.05
  done
  kill "$admitd_pid" 2>/dev/null; wait "$admitd_pid" 2>/dev/null || true
  admitd_pid=""
  return 1
}

stop_admitd() {
  kill "$admitd_pid"; wait "$admitd_pid" 2>/dev/null || true
  admitd_pid=""
  rm -rf "$admit_dir"
}

# admit_fields FIELD.PATH... < json -> those fields, space separated
admit_fields() {
  python3 -c '
import json, sys
run = json.load(sys.stdin)
out = []
for path in sys.argv[1:]:
    value = run
    for key in path.split("."):
        value = value[key]
    out.append(str(value))
print(" ".join(out))' "$@"
}
