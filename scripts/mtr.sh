#!/usr/bin/env bash
# mtr.sh [--root DIR] [--stock] [TEST...]: run MariaDB's own Galera SST
# tests (mariadb-test-run) against our binary. Needs root (for unshare and
# mount) and the mariadb-test package; mtr itself runs as the unprivileged
# user "mysql".
#
#   --root DIR  run the server and mtr of the chroot DIR, e.g. the MariaDB
#               11.8 one of scripts/chroot-118.sh (built if missing when DIR
#               is its path); mtr is /usr/share/mariadb/mariadb-test there.
#   --stock     leave the stock wsrep_sst_mariabackup in place (to compare).
#
# Default tests: on the host, every galera test with "mariabackup" in its
# name; with --root, every test of the galera* suites whose .cnf sets
# wsrep_sst_method=mariabackup (33 in 11.8).
#
# Our binary is bind-mounted over /usr/bin/wsrep_sst_mariabackup inside a
# private mount namespace, so nothing else on the machine sees the change.
# Not part of "make test": the galera suite's mariabackup tests take about
# 20 minutes serially on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=
stock=0
while [ $# -gt 0 ]; do
    case $1 in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --root=*) root=${1#--root=}; shift ;;
    --stock) stock=1; shift ;;
    --) shift; break ;;
    -*) echo "mtr.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
if [ "$(id -u)" -ne 0 ]; then
    echo "mtr.sh: run as root (needs unshare -m and mount --bind)" >&2
    exit 1
fi
make -s build

if [ -n "$root" ]; then
    root=$(realpath -m "$root")
    SST_CHROOT=$root ./scripts/chroot-118.sh build
    work=$(mktemp -d "$root/tmp/sst-mtr.XXXXXX")
    inner=${work#"$root"}
    mtrdir=/usr/share/mariadb/mariadb-test
else
    ./scripts/install-deps.sh
    if [ ! -x /usr/share/mysql/mysql-test/mariadb-test-run ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-test >&2
    fi
    work=$(mktemp -d /tmp/sst-mtr.XXXXXX)
    inner=$work
    mtrdir=/usr/share/mysql/mysql-test
fi
install -m 0755 bin/wsrep_sst_mariabackup "$work/wsrep_sst_mariabackup"
# mtr (as mysql) removes and recreates its vardir: give it a parent of
# its own.
mkdir -p "$work/mtr/var"
chmod 0755 "$work" "$work/mtr"

if [ $# -gt 0 ]; then
    tests=("$@")
elif [ -n "$root" ]; then
    mapfile -t tests < <(cd "$root$mtrdir" &&
        grep -l -i 'wsrep[_-]sst[_-]method *= *mariabackup' suite/galera*/t/*.cnf |
        while read -r f; do
            s=${f#suite/}; s=${s%%/*}; b=$(basename "$f" .cnf)
            [ -f "suite/$s/t/$b.test" ] && echo "$s.$b"
        done | sort)
else
    mapfile -t tests < <(ls "$mtrdir/suite/galera/t/" | sed -n 's/^\(.*mariabackup.*\)\.test$/galera.\1/p')
fi
echo "mtr.sh: ${#tests[@]} tests, vardir $work/mtr/var$([ -n "$root" ] && echo " (root $root)")$([ $stock = 1 ] && echo ", stock script")" >&2

# inside runs in the server's root: binds our binary (unless --stock), then
# mtr as mysql.
inside='
    set -e
    bin=$1 vardir=$2 mtrdir=$3 stock=$4
    shift 4
    chown -R mysql: "$(dirname "$vardir")"
    if [ "$stock" = 0 ]; then
        mount --bind "$bin" /usr/bin/wsrep_sst_mariabackup
    fi
    cd "$mtrdir"
    runuser -u mysql -- ./mariadb-test-run --vardir="$vardir" --force --retry=0 --max-test-fail=0 \
        --parallel=1 --testcase-timeout=30 "$@"
'
args=("$inner/wsrep_sst_mariabackup" "$inner/mtr/var" "$mtrdir" "$stock" "${tests[@]}")
status=0
if [ -n "$root" ]; then
    # chroot-118.sh run mounts /proc, /sys, /dev and the root on itself,
    # so the inner unshare has a private copy of a real mount tree.
    SST_CHROOT=$root ./scripts/chroot-118.sh run -- \
        unshare -m --propagation private bash -c "$inside" mtr "${args[@]}" 2>&1 | tee "$work/mtr.log" || status=$?
else
    unshare -m --propagation private bash -c "$inside" mtr "${args[@]}" 2>&1 | tee "$work/mtr.log" || status=$?
fi
echo "mtr.sh: log in $work/mtr.log" >&2
# The last test's server logs are still there: they show which program ran.
if [ $stock = 0 ] && ! grep -rqs -e 'built-in TCP pipe' -e 'Data stream from the donor started' "$work/mtr/var/log/"; then
    echo "mtr.sh: warning: no line of our binary in $work/mtr/var/log (did the last test run an SST?)" >&2
fi
if [ $status = 0 ]; then
    # Keep mtr.log; the vardir of passing tests is only bulk (and, with
    # --root, would pile up in the cached chroot).
    rm -rf "$work/mtr" "$work/wsrep_sst_mariabackup"
fi
exit $status
