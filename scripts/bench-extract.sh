#!/bin/sh
# Compare extraction by the stock "mbstream -x" (with -p 1 and -p 4) and by
# our Go extractor (mbstream.Extract, run through the BenchmarkExtractFromEnv
# helper of a compiled test binary) on the same stream; print MB/s and the
# maximum RSS of each.
#
# Usage: scripts/bench-extract.sh [size-in-MiB]   (default 2048)
# Needs mbstream and GNU time (/usr/bin/time -v). Scratch space comes from
# $TMPDIR (default /var/tmp) and needs about 4x the size; it is removed on
# exit. The stream sits in the page cache and extracted files are not
# fsynced, so this measures CPU and memory cost more than disk speed.
set -eu

size_mb=${1:-2048}
GO=${GO:-go}
command -v mbstream >/dev/null || { echo "mbstream not found" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found" >&2; exit 2; }

cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/bench-extract.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "generating ${size_mb} MiB of files in $tmp/src" >&2
mkdir -p "$tmp/src/db1" "$tmp/src/db2"
per=$((size_mb / 8))
head -c "${per}M" /dev/urandom >"$tmp/src/ibdata1"
for i in 1 2 3 4 5 6 7; do
	cp "$tmp/src/ibdata1" "$tmp/src/db$((i % 2 + 1))/big$i.ibd"
done
i=0
while [ $i -lt 300 ]; do
	head -c 16384 /dev/urandom >"$tmp/src/db1/t$i.frm"
	i=$((i + 1))
done
(cd "$tmp/src" && mbstream -c ibdata1 db1/* db2/*) >"$tmp/stream"
rm -rf "$tmp/src"
bytes=$(stat -c %s "$tmp/stream")

echo "building the test binary" >&2
$GO test -c -o "$tmp/mbstream.test" ./internal/format/mbstream

# report NAME TIMEFILE: print MB/s and max RSS from GNU time's output.
report() {
	awk -v name="$1" -v bytes="$bytes" '
		/Elapsed \(wall clock\)/ {
			n = split($NF, t, ":"); s = 0
			for (i = 1; i <= n; i++) s = s * 60 + t[i]
		}
		/Maximum resident set size/ { rss = $NF }
		END {
			printf "%-22s %8.2f s %8.0f MB/s  max RSS %7.1f MiB\n", name, s, bytes / 1e6 / s, rss / 1024
			printf "%s\t%s\t%s\n", name, s, rss >> results
		}
	' results="$tmp/results" "$2"
}

# run NAME DIR CMD...: extract the stream into DIR (made empty) with CMD.
run() {
	name=$1 dir=$2
	shift 2
	rm -rf "$dir"
	mkdir "$dir"
	sync
	/usr/bin/time -v -o "$tmp/time" "$@" <"$tmp/stream" >/dev/null
	report "$name" "$tmp/time"
}

# tool N: run the Nth tool (0, 1, 2) into its own directory.
tool() {
	case $1 in
	0) run "mbstream -x -p 1" "$tmp/p1" mbstream -x -C "$tmp/p1" ;;
	1) run "mbstream -x -p 4" "$tmp/p4" mbstream -x -p 4 -C "$tmp/p4" ;;
	2) MBSTREAM_EXTRACT_STREAM="$tmp/stream" MBSTREAM_EXTRACT_DIR="$tmp/go" \
		run "go Extract (4 workers)" "$tmp/go" "$tmp/mbstream.test" -test.run '^$' -test.bench '^BenchmarkExtractFromEnv$' -test.benchtime 1x ;;
	esac
}

echo "stream: $bytes bytes"
# Several rounds, the tool that goes first rotating, as the machine may be
# shared and a run's speed depends on what ran just before it (page cache,
# writeback, freed memory the hypervisor took back): compare best of N.
round=0
while [ $round -lt "${ROUNDS:-2}" ]; do
	for i in 0 1 2; do
		tool $(((round + i) % 3))
	done
	diff -r "$tmp/p1" "$tmp/go" >/dev/null || { echo "extracted trees differ" >&2; exit 1; }
	rm -rf "$tmp/p1" "$tmp/p4" "$tmp/go"
	round=$((round + 1))
done

# Summary: each tool's median and best time, and ours against each stock
# run (median over median: on this kind of VM single runs vary widely).
echo
sort -t "$(printf '\t')" -k1,1 -k2,2n "$tmp/results" | awk -F '\t' -v bytes="$bytes" '
	{
		if (!($1 in n)) { order[++nk] = $1 }
		i = ++n[$1]; t[$1, i] = $2; rss[$1, i] = $3
	}
	END {
		for (j = 1; j <= nk; j++) {
			k = order[j]; m = n[k] % 2 ? (n[k] + 1) / 2 : n[k] / 2 + 1
			med[k] = t[k, m]; best[k] = t[k, 1]
			printf "%-22s median %8.0f MB/s  best %8.0f MB/s  max RSS %6.1f MiB (%d runs)\n", k, bytes / 1e6 / med[k], bytes / 1e6 / best[k], rss[k, m] / 1024, n[k]
		}
		o = "go Extract (4 workers)"
		for (j = 1; j <= nk; j++) {
			k = order[j]
			if (k != o) printf "ours vs %-16s median %.2fx, best %.2fx (target >= 1.0x)\n", k ":", med[k] / med[o], best[k] / best[o]
		}
	}'
