#!/usr/bin/env bash
# Builds drover_VERSION_amd64.deb with dpkg-deb: the release binary (static Swift stdlib), the
# units, sysusers.d and tmpfiles.d files, /etc/drover/drover.toml as a conffile, and
# maintainer scripts that create the user and reload systemd, never starting anything.
#
#   bash scripts/package-deb.sh [OUT_DIR]        # prints the .deb's path on stdout
#
# VERSION comes from Sources/DroverCore/DroverVersion.swift (DROVER_VERSION overrides it). The build uses
# a scratch folder of its own (DROVER_DEB_SCRATCH, default .build-deb/swiftpm) so it never
# waits on the lock of another `swift build` or `swift test` in this package.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="$(mkdir -p "${1:-.build-deb}" && cd "${1:-.build-deb}" && pwd)"
scratch="${DROVER_DEB_SCRATCH:-$root/.build-deb/swiftpm}"
version="${DROVER_VERSION:-$(sed -n 's/^ *public static let current = "\([^"]*\)".*/\1/p' Sources/DroverCore/DroverVersion.swift)}"
[ -n "$version" ] || { echo "package-deb: no version in Sources/DroverCore/DroverVersion.swift" >&2; exit 1; }
arch="$(dpkg --print-architecture)"

swift build -c release --static-swift-stdlib --product drover --scratch-path "$scratch" >&2
bin="$scratch/release/drover"

stage="$(mktemp -d "$out/stage.XXXXXX")"
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT
install -D -m 0755 "$bin" "$stage/usr/bin/drover"
strip --strip-unneeded "$stage/usr/bin/drover"
for u in drover.service drover.socket drover@.service drover@.socket; do
  install -D -m 0644 "units/$u" "$stage/usr/lib/systemd/system/$u"
done
install -D -m 0644 units/drover.sysusers.conf "$stage/usr/lib/sysusers.d/drover.conf"
install -D -m 0644 units/drover.tmpfiles.conf "$stage/usr/lib/tmpfiles.d/drover.conf"
install -D -m 0644 config/drover.package.toml "$stage/etc/drover/drover.toml"
install -D -m 0644 config/drover.example.toml "$stage/usr/share/doc/drover/examples/drover.toml"
install -D -m 0644 README.md "$stage/usr/share/doc/drover/README.md"

mkdir -p "$stage/DEBIAN"
echo /etc/drover/drover.toml >"$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do
  install -m 0755 "scripts/deb/$s" "$stage/DEBIAN/$s"
done
# What the binary links against beyond the static Swift runtime (dpkg-shlibdeps wants a
# debian/ tree; the sonames are few and stable, so they are named here and checked).
needed="$(objdump -p "$stage/usr/bin/drover" | awk '/NEEDED/ {print $2}' | sort | tr '\n' ' ')"
for lib in $needed; do
  case "$lib" in
    libc.so.6 | libm.so.6 | libdl.so.2 | libpthread.so.0 | librt.so.1 | libutil.so.1 | ld-linux-x86-64.so.2) ;;
    libsqlite3.so.0 | libsystemd.so.0 | libstdc++.so.6 | libgcc_s.so.1 | libpq.so.5 | libz.so.1) ;;
    *) echo "package-deb: the binary needs $lib, which the control file does not name" >&2; exit 1 ;;
  esac
done
depends="libc6 (>= 2.34), libsqlite3-0 (>= 3.35), libsystemd0, systemd"
case " $needed " in *" libstdc++.so.6 "*) depends="$depends, libstdc++6" ;; esac
case " $needed " in *" libgcc_s.so.1 "*) depends="$depends, libgcc-s1" ;; esac
case " $needed " in *" libpq.so.5 "*) depends="$depends, libpq5" ;; esac
case " $needed " in *" libz.so.1 "*) depends="$depends, zlib1g" ;; esac
cat >"$stage/DEBIAN/control" <<CONTROL
Package: drover
Version: $version
Architecture: $arch
Maintainer: Drover developers <drover@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $depends
Section: admin
Priority: optional
Homepage: https://localhost/drover
Description: background-job runtime: a supervisor, its worker pools and a SQLite job store
 drover serve owns a durable SQLite job store and spawns, feeds, scales, restarts and drains
 pools of worker processes, under systemd (Type=notify, watchdog, socket activation).
 Nothing is started on install: systemctl enable --now drover.
CONTROL

deb="$out/drover_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$stage" "$deb" >&2
echo "$deb"
