#!/usr/bin/env bash
# deb-test.sh: install, check, upgrade, run an SST through, remove and purge
# the package made by deb.sh in a throwaway root, never on this machine's
# /usr/bin.
#
#   deb-test.sh DEB VERSION      (make deb-test calls it; needs root and go)
#
# The throwaway root is a copy-on-write overlay over a Debian root that has
# mariadb-server (the stock script and man page): by default the Debian 13
# chroot of scripts/chroot-118.sh at /var/cache/wsrep-sst-go/trixie, used
# read-only (the overlay's upper layer is a temporary directory, so nothing
# is written there; a shared lock on its build lock keeps a rebuild from
# swapping it meanwhile). Set SST_CHROOT to use another root. All mounts are
# made in a private mount namespace and vanish with it; the upper layer is
# deleted on exit.
#
# Between install and removal, a real 2-node Galera SST runs through the
# installed /usr/bin/wsrep_sst_mariabackup of that root: sstlab demo (built
# here with go) with both nodes' servers run from the root (SST_SERVER_ROOT)
# and that file as their SST program, on a small dataset (SSTLAB_ROWS rows
# per table, default 2000), checksums compared. It starts real nodes: run
# it under the integration lock when other cluster tests may run.
set -euo pipefail

die() { echo "deb-test.sh: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: deb-test.sh DEB VERSION"
deb=$1 version=$2
[ -f "$deb" ] || die "$deb: no such package (run make deb)"
[ "$(id -u)" -eq 0 ] || die "run as root (overlay mount and chroot need it)"
base=${SST_CHROOT:-/var/cache/wsrep-sst-go/trixie}
[ -x "$base/usr/bin/dpkg" ] && [ -f "$base/usr/bin/wsrep_sst_mariabackup" ] ||
    die "no Debian root with mariadb-server at $base: build one with 'scripts/chroot-118.sh build' or set SST_CHROOT"

rows=${SSTLAB_ROWS:-2000}
[[ $rows =~ ^[0-9]+$ ]] || die "SSTLAB_ROWS=$rows: want a number of rows"

tmp=$(mktemp -d /var/tmp/deb-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/upper/tmp" "$tmp/work" "$tmp/merged"
cp "$deb" "$tmp/upper/tmp/pkg.deb"
# The SST harness, built from this checkout; it runs on the host side.
(cd "$(dirname "$0")/.." && CGO_ENABLED=0 ${GO:-go} build -o "$tmp/sstlab" ./internal/galeratest/sstlab) ||
    die "cannot build internal/galeratest/sstlab (needs go)"

# The checks, run inside the root by /bin/sh: "install" installs and checks
# (twice: the upgrade path), "remove" removes, reinstalls and purges.
inner=$(cat <<'EOF'
set -eu
phase=$1 ver=$2
pkg=wsrep-sst-mariabackup-go
p=/usr/bin/wsrep_sst_mariabackup
m=/usr/share/man/man1/wsrep_sst_mariabackup.1.gz
ms=/usr/share/man/man1/wsrep_sst_mariabackup.stock.1.gz
fail() { echo "deb-test: FAIL: $*" >&2; exit 1; }
ok() { echo "deb-test: ok: $*"; }
sum() { sha256sum <"$1" | cut -d' ' -f1; }

if [ "$phase" = install ]; then
    head -c 2 "$p" | grep -q '#!' || fail "$p is not the stock script before install"
    sum "$p" >/tmp/stock.sums
    sum "$m" >>/tmp/stock.sums
fi
{ read -r s0; read -r m0; } </tmp/stock.sums

stock_is_back() {
    [ "$(sum "$p")" = "$s0" ] || fail "$1: $p is not the stock script"
    [ "$(sum "$m")" = "$m0" ] || fail "$1: $m is not the stock man page"
    [ ! -e "$p.stock" ] && [ ! -e "$ms" ] || fail "$1: the .stock copies are left behind"
    if dpkg-divert --list | grep -q wsrep_sst_mariabackup; then
        fail "$1: diversions left: $(dpkg-divert --list | grep wsrep_sst_mariabackup)"
    fi
    if dpkg --verify mariadb-server | grep wsrep_sst_mariabackup; then
        fail "$1: dpkg --verify mariadb-server complains"
    fi
    ok "$1: the stock script and man page are back, no diversion left"
}

is_ours() {
    out=$("$p" --version) || fail "$1: $p --version failed"
    [ "$out" = "wsrep_sst_mariabackup $ver" ] || fail "$1: $p --version = '$out', want 'wsrep_sst_mariabackup $ver'"
    out=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin wsrep_sst_mariabackup --version)
    [ "$out" = "wsrep_sst_mariabackup $ver" ] || fail "$1: wsrep_sst_mariabackup in PATH says '$out'"
    [ "$(sum "$p.stock")" = "$s0" ] || fail "$1: $p.stock is not the stock script"
    [ "$(sum "$ms")" = "$m0" ] || fail "$1: $ms is not the stock man page"
    dpkg-divert --listpackage "$p" | grep -qx "$pkg" || fail "$1: $p is not diverted by $pkg"
    dpkg-divert --listpackage "$m" | grep -qx "$pkg" || fail "$1: $m is not diverted by $pkg"
    zcat "$m" | grep -q '^\.TH WSREP_SST_MARIABACKUP 1' || fail "$1: $m is not our man page"
    [ -s /usr/share/doc/$pkg/README.md ] || fail "$1: README.md missing"
    # The stock script still runs under its new name: it finds
    # wsrep_sst_common and gives its usual error for a missing --datadir.
    if err=$("$p.stock" --role joiner --address 127.0.0.1:1 2>&1); then
        fail "$1: $p.stock without --datadir succeeded"
    fi
    echo "$err" | grep -q "The '--datadir' parameter must be passed to the SST script" ||
        fail "$1: $p.stock does not run: $err"
    # Our binary's first contact: help on a bare run, exit 0.
    "$p" | grep -q '^Subcommands:' || fail "$1: $p without arguments prints no help"
    ok "$1: $p is ours ($out), stock script at $p.stock and runnable"
}

if [ "$phase" = install ]; then
    dpkg -i /tmp/pkg.deb >/dev/null
    is_ours "install"
    dpkg -i /tmp/pkg.deb >/dev/null
    is_ours "reinstall (upgrade path)"
    exit 0
fi
is_ours "after the SST"
dpkg -r $pkg >/dev/null
stock_is_back "remove"
dpkg -i /tmp/pkg.deb >/dev/null
is_ours "install again"
dpkg -P $pkg >/dev/null
stock_is_back "purge"
echo "deb-test: PASS"
EOF
)

lock=$base.lock
[ -e "$lock" ] || lock=/dev/null
flock -s "$lock" unshare -m --propagation private bash -c '
    set -euo pipefail
    base=$1 tmp=$2 version=$3 inner=$4 rows=$5
    mount -t overlay overlay -o "lowerdir=$base,upperdir=$tmp/upper,workdir=$tmp/work" "$tmp/merged"
    mount -t proc proc "$tmp/merged/proc"
    mount --bind /dev "$tmp/merged/dev"
    inroot() {
        chroot "$tmp/merged" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
            /bin/sh -c "$inner" deb-test "$@"
    }
    inroot install "$version"
    # An SST through the installed binary: both nodes run the root'"'"'s
    # server with that file as their SST program.
    prog=$tmp/merged/usr/bin/wsrep_sst_mariabackup
    want=$(dpkg-deb --fsys-tarfile "$tmp/upper/tmp/pkg.deb" | tar -xO ./usr/bin/wsrep_sst_mariabackup | sha256sum)
    [ "$(sha256sum <"$prog")" = "$want" ] ||
        { echo "deb-test: FAIL: $prog is not the binary of the package" >&2; exit 1; }
    if ! out=$(SST_SERVER_ROOT=$tmp/merged "$tmp/sstlab" demo --sst-program "$prog" --rows "$rows" 2>&1); then
        echo "$out" >&2
        echo "deb-test: FAIL: SST through the packaged $prog" >&2
        exit 1
    fi
    echo "$out" | sed "s/^/deb-test: sstlab: /"
    n=$(grep -c " match$" <<<"$out" || true)
    [ "$n" -ge 1 ] || { echo "deb-test: FAIL: no table checksums compared" >&2; exit 1; }
    srv=$(chroot "$tmp/merged" /usr/sbin/mariadbd --version | grep -o "Ver [^ ]*" || true)
    echo "deb-test: ok: SST between two nodes of the root'"'"'s mariadbd ($srv) through the packaged /usr/bin/wsrep_sst_mariabackup, $n tables match"
    inroot remove "$version"
' deb-test "$base" "$tmp" "$version" "$inner" "$rows"
