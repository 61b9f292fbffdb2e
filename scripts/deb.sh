#!/usr/bin/env bash
# deb.sh: build the Debian package that replaces the stock SST script.
#
#   deb.sh BINARY VERSION OUTDIR     (make deb calls it)
#
# The package, wsrep-sst-mariabackup-go, installs BINARY as
# /usr/bin/wsrep_sst_mariabackup, and a man page generated from its own
# "help --man". Its preinst diverts the stock script (and the stock man
# page) with dpkg-divert, so mariadb-server upgrades keep updating the
# script under its new name instead of overwriting ours:
#
#   /usr/bin/wsrep_sst_mariabackup              -> .../wsrep_sst_mariabackup.stock
#   /usr/share/man/man1/wsrep_sst_mariabackup.1.gz -> .../wsrep_sst_mariabackup.stock.1.gz
#
# The stock script still runs by that path: it finds wsrep_sst_common next
# to itself and takes its method name from the file name minus ".stock".
# Removing the package puts both back (postrm). README.md goes to
# /usr/share/doc/wsrep-sst-mariabackup-go/.
#
# Needs dpkg-deb and gzip; no root (dpkg-deb --root-owner-group).
set -euo pipefail

die() { echo "deb.sh: $*" >&2; exit 1; }

[ $# -eq 3 ] || die "usage: deb.sh BINARY VERSION OUTDIR"
bin=$1 version=$2 out=$3
[ -x "$bin" ] || die "$bin: not an executable (run make build first)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found: apt-get install dpkg"
here=$(cd "$(dirname "$0")/.." && pwd)

pkg=wsrep-sst-mariabackup-go
# A Debian version must start with a digit: v1.2.3-4-gabc -> 1.2.3+4-gabc.
# A bare commit (no tag yet) 80dfa90 -> 0~20261206.216+g80dfa90: the commit
# date and the number of commits first, so that apt orders later builds
# after earlier ones (hashes do not sort); "-dirty" becomes ".dirty".
debver=${version#v}
debver=${debver//-/+}
case $debver in
[0-9]*.[0-9]*) ;;
*)
    hash=${version%-dirty} dirty=
    [ "$hash" = "$version" ] || dirty=.dirty
    date=$(git -C "$here" log -1 --format=%cd --date=format:%Y%m%d "$hash" 2>/dev/null) || date=0
    count=$(git -C "$here" rev-list --count "$hash" 2>/dev/null) || count=0
    debver=0~$date.$count+g$hash$dirty
    ;;
esac
arch=${DEB_ARCH:-$(dpkg --print-architecture)}

# The binary must answer for itself before it is packaged.
got=$("$bin" --version) || die "$bin --version failed"
[ "$got" = "wsrep_sst_mariabackup $version" ] ||
    die "$bin --version says '$got', want 'wsrep_sst_mariabackup $version' (stale build?)"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
doc=$root/usr/share/doc/$pkg
install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/man/man1" "$doc"
install -m 0755 "$bin" "$root/usr/bin/wsrep_sst_mariabackup"
"$bin" help --man | gzip -9n >"$root/usr/share/man/man1/wsrep_sst_mariabackup.1.gz"
install -m 0644 "$here/README.md" "$doc/README.md"
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: wsrep_sst_mariabackup (Go)
Comment: a drop-in replacement for MariaDB Galera's wsrep_sst_mariabackup
 script; see README.md in this directory.
EOF
{
    echo "$pkg ($debver) unstable; urgency=medium"
    echo
    echo "  * Built from $version."
    echo
    echo " -- wsrep_sst_mariabackup maintainers <root@localhost>  $(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")"
} | gzip -9n >"$doc/changelog.Debian.gz"
chmod 0644 "$doc/copyright" "$doc/changelog.Debian.gz" "$root/usr/share/man/man1/wsrep_sst_mariabackup.1.gz"

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: $pkg
Version: $debver
Architecture: $arch
Maintainer: wsrep_sst_mariabackup maintainers <root@localhost>
Installed-Size: $size
Section: database
Priority: optional
Recommends: mariadb-backup
Enhances: mariadb-server
Description: Galera SST with mariadb-backup, replacing wsrep_sst_mariabackup
 A drop-in replacement, written in Go, for the wsrep_sst_mariabackup script
 that MariaDB Galera runs for wsrep_sst_method=mariabackup: same argv, same
 option files, one static binary with a built-in transport.
 .
 The stock script is diverted to /usr/bin/wsrep_sst_mariabackup.stock and
 comes back when this package is removed.
EOF

# Both diversions are added before the unpack and removed after the files
# are gone; an upgrade keeps them.
divert() {
    local op=$1
    cat <<EOF
    dpkg-divert --package $pkg --$op --rename \\
        --divert /usr/bin/wsrep_sst_mariabackup.stock /usr/bin/wsrep_sst_mariabackup
    dpkg-divert --package $pkg --$op --rename \\
        --divert /usr/share/man/man1/wsrep_sst_mariabackup.stock.1.gz /usr/share/man/man1/wsrep_sst_mariabackup.1.gz
EOF
}
cat >"$root/DEBIAN/preinst" <<EOF
#!/bin/sh
set -e
case "\$1" in
install|upgrade)
$(divert add)
    ;;
esac
exit 0
EOF
cat >"$root/DEBIAN/postrm" <<EOF
#!/bin/sh
set -e
case "\$1" in
remove|abort-install|disappear)
$(divert remove)
    ;;
esac
exit 0
EOF
chmod 0755 "$root/DEBIAN/preinst" "$root/DEBIAN/postrm"

mkdir -p "$out"
deb=$out/${pkg}_${debver}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
