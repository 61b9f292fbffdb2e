#!/usr/bin/env bash
# mtr.sh [TEST...]: run MariaDB's own Galera SST tests (mariadb-test-run,
# suite galera) against our binary. Default: every galera test with
# "mariabackup" in its name. Needs root (for unshare/mount) and the
# mariadb-test package; mtr itself runs as the unprivileged user "mysql".
#
# Our binary is bind-mounted over /usr/bin/wsrep_sst_mariabackup inside a
# private mount namespace, so nothing else on the machine sees the change.
# Not part of "make test": the galera suite's mariabackup tests take about
# 20 minutes serially on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "mtr.sh: run as root (needs unshare -m and mount --bind)" >&2
    exit 1
fi
./scripts/install-deps.sh
if [ ! -x /usr/share/mysql/mysql-test/mariadb-test-run ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-test >&2
fi
make -s build
work=$(mktemp -d /tmp/sst-mtr.XXXXXX)
install -m 0755 bin/wsrep_sst_mariabackup "$work/wsrep_sst_mariabackup"
mkdir "$work/var"
chmod 0755 "$work"
chown mysql: "$work/var"
cd /usr/share/mysql/mysql-test
if [ $# -gt 0 ]; then
    tests=("$@")
else
    mapfile -t tests < <(ls suite/galera/t/ | sed -n 's/^\(.*mariabackup.*\)\.test$/galera.\1/p')
fi
echo "mtr.sh: ${#tests[@]} tests, vardir $work/var" >&2
status=0
unshare -m --propagation private bash -c '
    set -e
    mount --bind "$1" /usr/bin/wsrep_sst_mariabackup
    shift
    cd /usr/share/mysql/mysql-test
    runuser -u mysql -- ./mariadb-test-run --vardir="'"$work/var"'" --force --retry=0 --max-test-fail=0 \
        --parallel=1 --testcase-timeout=30 "$@"
' mtr "$work/wsrep_sst_mariabackup" "${tests[@]}" 2>&1 | tee "$work/mtr.log" || status=$?
echo "mtr.sh: log in $work/mtr.log" >&2
exit $status
