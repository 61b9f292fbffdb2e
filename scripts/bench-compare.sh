#!/usr/bin/env bash
# bench-compare.sh REV [SIZE]: scripts/bench-sst.sh's measure (a full SST of
# SIZE of InnoDB data, default 2G, joiner start to Synced, the stock script
# in the same run as a control) for our binary built at git revision REV
# and for the one of the working tree, ROUNDS times each (default 2),
# alternating which goes first; prints each run, then the medians and the
# ratio. For "no behaviour change" claims of a refactoring (issue 18):
#   flock /tmp/sst-integration.lock scripts/bench-compare.sh f9d74e8 2G
# A benchmark, not a test: run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 REV [SIZE]" >&2
    exit 2
fi
rev=$1
size=${2:-2G}
rounds=${ROUNDS:-2}
case "$size" in
    *[gG]) mb=$(( ${size%[gG]} * 1024 )) ;;
    *[mM]) mb=${size%[mM]} ;;
    *) mb=$size ;;
esac
# LoadData stores about 1000 bytes per row per table pair (galeratest.RowBytes).
rows=$(( mb * 1024 * 1024 / 1000 ))
./scripts/install-deps.sh
make -s build
work=$(mktemp -d /tmp/bench-compare.XXXXXX)
trap 'git worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/tree" "$rev"
make -s -C "$work/tree" build
mkdir -p "$work/old" "$work/new"
cp "$work/tree/bin/wsrep_sst_mariabackup" "$work/old/"
cp bin/wsrep_sst_mariabackup "$work/new/"
echo "dataset: ${mb} MB (${rows} rows per table); old = $rev, new = working tree"
run() { # run LABEL: one sstlab bench, prints "LABEL stock S ours S"
    local out
    out=$(go run ./internal/galeratest/sstlab bench --sst-program "$work/$1/wsrep_sst_mariabackup" --rows "$rows" | tail -1)
    echo "$out" | sed -E "s/^stock ([0-9.]+) s, [^ ]+ ([0-9.]+) s.*/$1 stock \1 ours \2/"
}
results=()
for i in $(seq "$rounds"); do
    if [ $((i % 2)) = 1 ]; then order="old new"; else order="new old"; fi
    for label in $order; do
        line=$(run "$label")
        echo "round $i: $line"
        results+=("$line")
    done
done
median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
for label in old new; do
    ours=$(printf '%s\n' "${results[@]}" | awk -v l="$label" '$1 == l {print $5}' | median)
    stock=$(printf '%s\n' "${results[@]}" | awk -v l="$label" '$1 == l {print $3}' | median)
    echo "median $label: ours $ours s (stock in the same runs $stock s)"
    eval "m_$label=$ours"
done
awk -v o="$m_old" -v n="$m_new" 'BEGIN {printf "new/old: %.2fx\n", n / o}'
