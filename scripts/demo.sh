#!/usr/bin/env bash
# Sets up and runs the demo: installs the system libraries, builds drover (release), and runs
# a supervisor on config/demo.toml with a mixed workload until Ctrl-C (which drains).
# Extra arguments go to `drover demo` (e.g. --seconds 20, --rate 2000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --static-swift-stdlib --product drover
exec .build/release/drover demo --config config/demo.toml "$@"
