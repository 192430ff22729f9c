#!/usr/bin/env bash
# Installs the system libraries Drover links against (Debian/Ubuntu), if missing, and the
# PostgreSQL server the tests start a throwaway cluster of (initdb, pg_ctl, psql).
set -euo pipefail
need=()
for p in libsqlite3-dev libsystemd-dev libpq-dev postgresql iproute2; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi
