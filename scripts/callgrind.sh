#!/usr/bin/env bash
# Instructions per job on the store's part of a drain, counted by callgrind: stable to a
# fraction of a percent run to run, where timings on this shared machine move by ±25 %. Judge
# a change to the commit path by this figure, before and after, on the same machine.
#
#   bash scripts/callgrind.sh [JOBS] [PER_CLAIM]     # defaults: 10000 jobs, 4 per worker
#
# What runs: `drover bench commit` (release build), which seeds JOBS queued jobs in a scratch
# SQLite file and drains them through `SQLiteStore.apply` the way the supervisor's group
# commits do (2 workers, PER_CLAIM jobs claimed for each per turn; each turn settles what the
# last one claimed, with pid, handler start and usage, leased to a session). Only
# `StoreBenchmark.turns` is counted (--toggle-collect), not the seeding.
#
# Why a copy without debug info: valgrind 3.19 (Debian 12) cannot read the DWARF 5 that Swift
# 6 emits. Why not `drover serve` itself: valgrind 3.19 has no pidfd_open(2), which the
# supervisor needs for its workers.
set -euo pipefail
jobs=${1:-10000}
per=${2:-4}
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "callgrind.sh: needs valgrind (apt-get install -y valgrind)" >&2; exit 1; }
swift build -c release --static-swift-stdlib --product drover >&2
work=$(mktemp -d /tmp/drover-callgrind.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp .build/release/drover "$work/drover"
strip --strip-debug "$work/drover"
valgrind --tool=callgrind --callgrind-out-file="$work/out" \
  --toggle-collect='*StoreBenchmarkO5turns*' --toggle-collect='*0B9BenchmarkO5turns*' \
  "$work/drover" bench commit --jobs "$jobs" --per-claim "$per" >"$work/bench.txt" 2>"$work/valgrind.txt"
ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/valgrind.txt" | tail -1)
[ -n "$ir" ] && [ "$ir" -gt 0 ] || { cat "$work/valgrind.txt" >&2; echo "callgrind.sh: nothing counted" >&2; exit 1; }
echo "instructions per job: $((ir / jobs))  ($ir over $jobs jobs, 2 workers x $per per turn)"
if [ -n "${CALLGRIND_TOP:-}" ]; then
  callgrind_annotate --inclusive=yes "$work/out" 2>/dev/null | sed -n '/file:function/,$p' | head -"$CALLGRIND_TOP"
fi
