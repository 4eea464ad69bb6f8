# Shell functions the scripts of bench/compare/ share (sourced, not run).
# Admitd and load generators on loopback only; each process they start is
# stopped by its pid.

# A base port with `span` free ports from it on 127.0.0.1.
free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
span = int(sys.argv[1])
for _ in range(200):
    base = random.randint(20000, 60000 - span)
    sockets = []
    try:
        for port in range(base, base + span):
            s = socket.socket(); s.bind(("127.0.0.1", port)); sockets.append(s)
        print(base); sys.exit(0)
    except OSError:
        pass
    finally:
        for s in sockets: s.close()
sys.exit("no free port range")
PY
}

median() {
  python3 -c 'import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"
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

# start_admitd off|strict [ADMITD]: sets admitd_pid, admit_address and
# admit_dir (its data and output, removed by stop_admitd); false
# when admitd refuses the mode. Uses $admitd (or ADMITD), $shards, $server_pin
# and $tmp of the script.
start_admitd() {
  local binary=${2:-$admitd} port
  port=$(free_ports $(( shards + 1 )))
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
  echo "$(basename "$0"): $binary --durability $1 did not start: $(head -c 300 "$dir/err")" >&2
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
