#!/usr/bin/env bash
# Installs what Drover's build and tests need on Debian/Ubuntu, if missing: the system
# libraries it links against; the PostgreSQL server the tests start a throwaway cluster of
# (initdb, pg_ctl, psql) and iproute2 for the multi-host namespaces; for the systemd system test
# (Tests/DroverSystemdTests) debootstrap, systemd-nspawn (systemd-container), dpkg-deb/objdump
# (dpkg-dev, binutils) and systemd-socket-activate/systemd-analyze (systemd); openssl checks
# webhook signatures in the alert tests; chromium (with a font to render text in) runs the
# dashboard's browser tests (Tests/DroverBrowserTests) headless.
set -euo pipefail
need=()
for p in libsqlite3-dev libsystemd-dev libpq-dev postgresql iproute2 debootstrap \
  systemd-container dpkg-dev binutils systemd util-linux openssl chromium fonts-dejavu-core; do
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
