#!/usr/bin/env bash
# bench-scale.sh [SIZE]: what a rejoin costs when the joiner's datadir is a
# filesystem of its own (issue 19), ours and the stock script in the same
# run. For each layout, sstlab scale loads SIZE of InnoDB data (default
# 2G) on the donor, gives the joiner a loop-mounted volume, and measures
# a full SST into it and then a rejoin after a tenth of one table changed
# (datadir kept, seqno -1): seconds, bytes on the namespace's loopback,
# peak extra disk on the volume during the join, peak RSS of each side's
# SST program, checksums, and a PASS/FAIL line per target. Layouts
# (LAYOUTS=a,b,c by default):
#   a  XFS with reflink, 3x the datadir
#   b  ext4 sized 1.6x the datadir: old and new data do not fit side by side
#   c  ext4, 3x, reads throttled to 40 MB/s (cgroup v1 blkio) and our
#      sst-idle-timeout=40: reading the old data takes longer than the
#      donor waits for it, as on a TB node with a 500 MB/s disk; the
#      page cache is dropped before each measured join, as on a node whose
#      data does not fit in memory (reads from the cache are not throttled)
# ROUNDS=N repeats each case N times (medians), rotating which tool goes
# first; KEEP=1 keeps the work directories.
#
# A benchmark, not a test: run it on a quiet machine, as root, and not at
# the same time as other cluster tests, e.g.
#   flock /tmp/sst-integration.lock scripts/bench-scale.sh 2G
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-netns.sh
if [ $# -gt 1 ]; then
    echo "usage: $0 [SIZE]   (SIZE default 2G)" >&2
    exit 2
fi
mb=$(size_mb "${1:-2G}")
rounds=${ROUNDS:-1}
layouts=${LAYOUTS:-a,b,c}
keep=()
[ "${KEEP:-0}" = 0 ] || keep=(--keep)
# LoadData stores about 1000 bytes per row per table pair (galeratest.RowBytes).
rows=$(( mb * 1024 * 1024 / 1000 ))
netns_setup sstscale
# "ip netns exec" gives the namespace a /sys of its own, without cgroups:
# layout c throttles through the host's blkio hierarchy bound here.
mkdir "$tmp/blkio"
mount --bind /sys/fs/cgroup/blkio "$tmp/blkio"
cleanup_first+=('umount "$tmp/blkio"')
echo "network namespace $ns (loopback not rate-limited); dataset: ${mb} MB (${rows} rows per table), rounds: ${rounds}"
rc=0
for l in ${layouts//,/ }; do
    case "$l" in
        a) args=(--layout "(a) XFS reflink" --joiner-fs xfs --joiner-size 3x --targets xfs) ;;
        b) args=(--layout "(b) ext4 1.6x datadir" --joiner-fs ext4 --joiner-size 1.6x --targets full-disk) ;;
        c) args=(--layout "(c) ext4 reads 40 MB/s" --joiner-fs ext4 --joiner-size 3x --read-bps 40000000 --blkio "$tmp/blkio" --idle-timeout 40 --drop-caches --targets slow-disk) ;;
        *) echo "$0: unknown layout $l (a, b or c)" >&2; exit 2 ;;
    esac
    echo
    echo "=== layout $l"
    ip netns exec "$ns" "$tmp/sstlab" scale --sst-program "$program" \
        --rows "$rows" --rounds "$rounds" "${args[@]}" "${keep[@]}" || rc=$?
done
exit "$rc"
