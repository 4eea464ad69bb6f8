#!/usr/bin/env bash
# Fails, naming the files and lines, when a C++ source of the tree differs
# from what clang-format makes of it (.clang-format at the root). Fix with
#   clang-format -i FILE...
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
folders=(protocol storage server client-lib tools bench tests)
mapfile -d '' files < <(find "${folders[@]}" -type f \( -name '*.cc' -o -name '*.h' \) -print0 | sort -z)
[ ${#files[@]} -gt 0 ] || { echo "check_format: no sources under ${folders[*]}" >&2; exit 1; }
if ! clang-format --dry-run -Werror "${files[@]}"; then
  echo "check_format: the files above are not clang-formatted; run: clang-format -i FILE..." >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted"
