#!/usr/bin/env bash
# Runs one fuzz target on its seed corpus for a bounded time.
#   run_target.sh BINARY NAME SECONDS [WORK_DIR]
# Seeds: tests/fuzz/corpus/NAME (never written to). New inputs go to
# WORK_DIR/corpus/NAME and crashing ones to WORK_DIR/crashes/ (WORK_DIR: a
# temporary folder, removed after, when not given). Exits non-zero on a crash.
set -euo pipefail
binary=$1 name=$2 seconds=$3 work=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "$work" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/corpus/$name" "$work/crashes"
# libFuzzer's own exit code for a crash is 77, which meson reads as "skipped":
# a crash must fail the test.
flags=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
  -error_exitcode=1 -timeout_exitcode=1 -artifact_prefix="$work/crashes/$name-")
[ -f "$here/dict/$name.dict" ] && flags+=(-dict="$here/dict/$name.dict")
[ -n "${ADMIT_FUZZ_SEED:-}" ] && flags+=(-seed="$ADMIT_FUZZ_SEED")
exec "$binary" "${flags[@]}" "$work/corpus/$name" "$here/corpus/$name"
