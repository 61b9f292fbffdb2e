#!/usr/bin/env bash
# bench-link.sh RATE [SIZE]: the stock script vs ours over a slow link.
# Both Galera nodes run inside a network namespace of their own whose
# loopback is rate-limited to RATE (tc tbf: 1gbit, 500mbit, ...); SIZE is
# the InnoDB data to load (default 2G; 500M, or a number of MB). In one
# run (sstlab link): full SSTs (stock plain and lz4; ours plain, lz4, zstd,
# zstd with 4 parallel streams), a rejoin after a tenth of one table
# changed (datadir kept, seqno -1), and the second attempt after the
# donor's SST was killed half-way; seconds, bytes on the namespace's
# loopback, peak RSS of our SST program, checksums, and a PASS/FAIL line
# per target of issue 11. ROUNDS=N repeats every case N times (medians),
# rotating which configuration goes first. ZSTD_LEVEL=N (default 1);
# CASES=full,rejoin,resume (the default) or a subset; KEEP=1 keeps the
# work directory (datadirs, logs) and prints its path.
#
# A benchmark, not a test: run it on a quiet machine, as root, and not at
# the same time as other cluster tests, e.g.
#   flock /tmp/sst-integration.lock scripts/bench-link.sh 1gbit 2G
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-netns.sh
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 RATE [SIZE]   (RATE as tc takes it: 1gbit, 500mbit; SIZE default 2G)" >&2
    exit 2
fi
rate=$1
mb=$(size_mb "${2:-2G}")
rounds=${ROUNDS:-1}
zstd_level=${ZSTD_LEVEL:-1}
cases=${CASES:-full,rejoin,resume}
keep=()
[ "${KEEP:-0}" = 0 ] || keep=(--keep)
# LoadData stores about 1000 bytes per row per table pair (galeratest.RowBytes).
rows=$(( mb * 1024 * 1024 / 1000 ))
netns_setup sstlink
tc -n "$ns" qdisc add dev lo root tbf rate "$rate" burst 256kb latency 20ms
echo "network namespace $ns, loopback: $(tc -n "$ns" qdisc show dev lo)"
echo "dataset: ${mb} MB (${rows} rows per table), rounds: ${rounds}"
ip netns exec "$ns" "$tmp/sstlab" link --sst-program "$program" \
    --rows "$rows" --rounds "$rounds" --zstd-level "$zstd_level" --rate "$rate" --cases "$cases" "${keep[@]}"
