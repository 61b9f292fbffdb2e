#!/usr/bin/env bash
# Installs what the tests and the demo need on a Debian/Ubuntu machine:
# MariaDB server + Galera (real nodes), mariadb-backup, the stock SST
# scripts (parity and mixed-cluster tests), socat, lz4, zstd and
# openssl, which only the stock script uses when it runs as the peer, and
# the mkfs programs for datadirs on volumes of their own (ext4, xfs, btrfs).
# As root it runs apt-get; otherwise it says what to install and fails.
# With --chroot it also installs debootstrap, which scripts/chroot-118.sh
# needs to build the Debian 13 chroot with MariaDB 11.8.
set -euo pipefail

need=()
if [ "${1:-}" = --chroot ]; then
    command -v debootstrap >/dev/null || need+=(debootstrap)
fi
for prog in /usr/sbin/mariadbd /usr/bin/mariadb /usr/bin/mariadb-install-db \
            /usr/bin/my_print_defaults /usr/bin/wsrep_sst_common; do
    [ -x "$prog" ] || [ -f "$prog" ] || need+=(mariadb-server)
done
command -v mariadb-backup >/dev/null || need+=(mariadb-backup)
command -v mbstream >/dev/null || need+=(mariadb-backup)
[ -f /usr/lib/galera/libgalera_smm.so ] || need+=(galera-4)
command -v socat >/dev/null || need+=(socat)
# The stock script, as the peer of mixed-cluster tests, runs these for
# compressor=lz4, encrypt=1 and ssl-mode VERIFY_*.
command -v lz4 >/dev/null || need+=(lz4)
command -v zstd >/dev/null || need+=(zstd)
command -v openssl >/dev/null || need+=(openssl)
# Datadirs on loop-mounted filesystems of their own (galeratest.Volume),
# and filefrag to see whether a clone shares extents. Root's PATH has
# /usr/sbin and /sbin; look there too for a non-root one.
for prog in mkfs.ext4:e2fsprogs filefrag:e2fsprogs mkfs.xfs:xfsprogs mkfs.btrfs:btrfs-progs; do
    p=${prog%%:*}
    PATH=$PATH:/usr/sbin:/sbin command -v "$p" >/dev/null || need+=("${prog#*:}")
done

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
pkgs=$(printf '%s\n' "${need[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "missing packages: $pkgs" >&2
    echo "install them as root: apt-get install -y $pkgs" >&2
    exit 1
fi
echo "installing: $pkgs" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# The packages' postinst tries to start a service; in a container that is
# refused harmlessly, and nothing is left listening.
apt-get install -y -q $pkgs >&2
