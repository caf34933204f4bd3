#!/usr/bin/env bash
# The broken-plugin matrix: tests/c/fixtures/broken.c built 16 ways (a
# segfault, abort(), exit(0) or an endless loop, in a library constructor,
# the entry point, can_read or get_data), each alone in IMAGEIO_PLUGIN_PATH,
# against four commands: `imageio formats`, `imageio plugins`, `imageio info`
# of a PNG (another format's file) and `imageio info` of the plugin's own
# file. Prints one line per kind x command: the exit status (or the signal
# that killed the tool), the seconds, and what the tool said about the
# plugin. Each command runs twice; the second run (the registry cache
# answering) is the one shown. Usage:
#   bash tests/reliability/broken-plugins.sh [path/to/imageio]
# (imageio-worker must sit beside the imageio binary; build both with
# `cargo build -p imageio-cli`).
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/debug/imageio}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export IMAGEIO_PLUGIN_TIMEOUT=2 IMAGEIO_SCAN_TIMEOUT=2
png=tests/data/hello-page.png
printf 'BRKN\x02\x02\x01\x02\x03\x04' > "$dir/x.brkn"
places=(constructor entry can_read get_data)
ways=(segfault abort exit hang)
printf '%-22s %-18s %-10s %7s  %s\n' plugin command outcome seconds "what the tool said"
for w in 1 2 3 4; do
  for h in 1 2 3 4; do
    p="$dir/p$w$h"
    mkdir -p "$p"
    cc -std=c99 -fPIC -shared -fvisibility=hidden -Iinclude -DBROKEN_WHERE=$w -DBROKEN_HOW=$h \
      tests/c/fixtures/broken.c -o "$p/libbroken.so"
    export IMAGEIO_PLUGIN_PATH=$p IMAGEIO_PLUGIN_CACHE=$dir/cache-$w$h.bin
    for cmd in "formats" "plugins" "info $png" "info $dir/x.brkn"; do
      "$bin" $cmd >/dev/null 2>&1
      start=$(date +%s.%N)
      out=$("$bin" $cmd 2>&1)
      status=$?
      end=$(date +%s.%N)
      if [ $status -gt 128 ]; then outcome="signal $((status - 128))"; else outcome="exit $status"; fi
      said=$(echo "$out" | grep -i 'broken' | head -1 | sed "s|$dir/||g; s|^imageio: error: ||" | cut -c1-110)
      [ -z "$said" ] && said=$(echo "$out" | head -1 | cut -c1-60)
      printf '%-22s %-18s %-10s %7.2f  %s\n' "${ways[$((h-1))]} in ${places[$((w-1))]}" \
        "$(echo "$cmd" | sed "s|$dir/||; s|tests/data/||")" "$outcome" "$(echo "$end - $start" | bc)" "$said"
    done
  done
done
