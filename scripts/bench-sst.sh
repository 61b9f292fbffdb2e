#!/usr/bin/env bash
# bench-sst.sh SIZE: the same dataset SST'd with the stock script and with
# our binary, in one run on one machine, printing seconds for each and the
# ratio. SIZE is the InnoDB data to load: 500M, 2G, or a number of MB.
# A benchmark, not a test: run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-200M}
case "$size" in
    *[gG]) mb=$(( ${size%[gG]} * 1024 )) ;;
    *[mM]) mb=${size%[mM]} ;;
    *) mb=$size ;;
esac
# LoadData stores about 1000 bytes per row per table pair (galeratest.RowBytes).
rows=$(( mb * 1024 * 1024 / 1000 ))
./scripts/install-deps.sh
make -s build
echo "dataset: ${mb} MB (${rows} rows per table)"
exec go run ./internal/galeratest/sstlab bench --sst-program bin/wsrep_sst_mariabackup --rows "$rows"
