#!/usr/bin/env bash
# Reads every hostile file (tests/reliability/hostile.py, and the fuzzing
# findings in tests/data/findings) with `imageio info` under a 2 GiB
# address-space limit, and prints one line each: the outcome (exit status or
# signal), the seconds, the peak memory, and the first line of the error.
# Usage: bash tests/reliability/run.sh [path/to/imageio]
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/debug/imageio}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 tests/reliability/hostile.py "$dir"
printf '%-34s %-8s %8s %10s  %s\n' file outcome seconds peak-KiB message
for f in "$dir"/* tests/data/findings/*; do
  start=$(date +%s.%N)
  msg=$( (ulimit -v 2097152; /usr/bin/time -f '%M' -o "$dir/.mem" "$bin" info "$f" 2>&1 >/dev/null) | head -1)
  status=$?
  end=$(date +%s.%N)
  mem=$(tail -1 "$dir/.mem" 2>/dev/null || echo '?')
  code=$(grep -o 'non-zero status [0-9]*\|signal [0-9]*' "$dir/.mem" 2>/dev/null | head -1)
  outcome=${code:-status 0}
  printf '%-34s %-8s %8.2f %10s  %s\n' "$(basename "$f" | cut -c1-34)" "${outcome/non-zero status /status }" \
    "$(echo "$end - $start" | bc)" "$mem" "$(echo "$msg" | sed 's/^imageio: error: [^:]*: //' | cut -c1-90)"
done
