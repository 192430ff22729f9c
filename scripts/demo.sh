#!/usr/bin/env bash
# Sets up and runs the demo: installs the system libraries, builds drover (release), and runs
# a supervisor on config/demo.toml with a mixed workload until Ctrl-C (which drains).
# Extra arguments go to `drover demo` (e.g. --seconds 20, --rate 2000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if [ ! -x .build/release/drover ]; then
  echo "demo: building drover (release) for the first time: 3-6 minutes on 2 cores; later runs take seconds" >&2
else
  echo "demo: building drover (release), incrementally" >&2
fi
start=$(date +%s)
swift build -c release --static-swift-stdlib --product drover
echo "demo: built in $(( $(date +%s) - start )) s; starting the supervisor" >&2
exec .build/release/drover demo --config config/demo.toml "$@"
