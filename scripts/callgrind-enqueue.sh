#!/usr/bin/env bash
# Instructions per single enqueue in the supervisor, counted by callgrind: `drover serve`
# (release build) runs under valgrind with one pool of no workers (valgrind 3.19 has no
# pidfd_open, which workers need), and a client sends N enqueues over the control socket, one
# at a time, each after the last reply. Counting starts after 200 warm-up enqueues.
#
#   bash scripts/callgrind-enqueue.sh [N]     # default 2000; CALLGRIND_TOP=60 adds functions
#
# Needs valgrind and python3 (the client).
set -euo pipefail
n=${1:-2000}
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "callgrind-enqueue.sh: needs valgrind" >&2; exit 1; }
command -v python3 >/dev/null || { echo "callgrind-enqueue.sh: needs python3" >&2; exit 1; }
swift build -c release --static-swift-stdlib --product drover >&2
work=$(mktemp -d /tmp/drover-callgrind.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
cp .build/release/drover "$work/drover"
strip --strip-debug "$work/drover"
mkdir -p "$work/var"
cat >"$work/s.toml" <<TOML
[store]
path = "var/s.db"
synchronous = "normal"

[control]
socket = "var/control.sock"

[pools.idle]
types = ["idle"]
handler = "noop"
min = 0
max = 1
TOML
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
  "$work/drover" serve --config "$work/s.toml" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -S "$work/var/control.sock" ] && break; sleep 0.1; done
[ -S "$work/var/control.sock" ] || { cat "$work/serve.log" >&2; exit 1; }
client() {
  python3 - "$work/var/control.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rb")
for _ in range(int(sys.argv[2])):
    s.sendall(b'{"cmd": "enqueue", "type": "bench"}\n')
    line = f.readline()
    if b'"ok": true' not in line and b'"ok":true' not in line:
        sys.exit("enqueue failed: %r" % line)
PY
}
client 200
callgrind_control -z "$pid" >/dev/null
client "$n"
callgrind_control -d "$pid" >/dev/null
kill -TERM "$pid"
wait "$pid" || true
pid=
out=$(ls "$work"/cg.out.* | head -1)
ir=$(callgrind_annotate "$out" 2>/dev/null | sed -n "s/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p" | tr -d ,)
[ -n "$ir" ] && [ "$ir" -gt 0 ] || { echo "callgrind-enqueue.sh: nothing counted" >&2; exit 1; }
# The loop thread alone (`Supervisor.run`): steadier than the total, which moves with how many
# checkpoints the checkpoint thread happened to run in the window.
loop=$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null \
  | sed -n 's/^ *\([0-9,]*\) .*DroverSupervisor0B0C3runs5Int32VyKF .*/\1/p' | head -1 | tr -d ,)
# Minus the loop's spins before it sleeps (`Spin.until`): polling for the client's next
# request, not work for this one (under valgrind's 50x slowdown they find nothing).
spin=$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null \
  | sed -n 's/^ *\([0-9,]*\) .*DroverSystem4SpinO5until.*/\1/p' | head -1 | tr -d ,)
loop=$((${loop:-0} - ${spin:-0}))
ir=$((ir - ${spin:-0}))
echo "instructions per enqueue: loop thread $((loop / n)), every thread $((ir / n))  (over $n; spins left out: $((${spin:-0} / n)))"
if [ -n "${CALLGRIND_TOP:-}" ]; then
  callgrind_annotate --inclusive=yes "$out" 2>/dev/null | sed -n '/file:function/,$p' | head -"$CALLGRIND_TOP"
fi
