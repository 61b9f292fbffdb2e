#!/usr/bin/env bash
# bench-pipe.sh [SIZE]: move SIZE bytes (default 4G; 512M, 1G, or a byte
# count) over loopback through our pipe (internal/stream and internal/tlsx,
# driven by tools/pipebench) and through the socat pipelines of
# the stock wsrep_sst_mariabackup script, in the same run, for three modes:
#
#   plain  pipebench          vs socat -b 131072 -u TCP-LISTEN / TCP
#   tls    pipebench (TLS)    vs socat OPENSSL-LISTEN / OPENSSL-CONNECT as
#                                the script runs them for encrypt=3 with a CA
#   lz4    pipebench -lz4     vs lz4 -z | socat ... | socat ... | lz4 -d
#
# and print, for each, MB/s (SIZE / wall time of the transfer), CPU seconds
# (user+sys summed over every sender and receiver process) and RSS (the sum
# of those processes' peak RSS), then our/socat ratios. Every transfer must
# deliver exactly SIZE bytes, counted by wc -c after the receiver.
#
# Input is generated once by "pipebench gen" (1 MiB pieces alternating
# between random bytes and repetitive SQL-like text) into a file of at most
# 1 GiB that is cat'ed as often as needed into the sender's stdin; the cat
# and wc processes are not counted. All socat commands get -b 131072.
# ROUNDS=N (default 3) repeats everything, the tool that goes first
# alternating by round (on a VM a run's speed depends on what ran just
# before it), and reports each tool's median and best run; the speed-up
# is judged on the medians. Needs socat, lz4, openssl, ss and GNU time; scratch
# space ($TMPDIR, default /var/tmp) of min(SIZE, 1G) is removed on exit.
# A benchmark, not a test: run it on a quiet machine.
set -euo pipefail
set -m # each background pipeline in its own process group, killed on exit

size=${1:-4G}
case "$size" in
*[gG]) bytes=$((${size%[gG]} << 30)) ;;
*[mM]) bytes=$((${size%[mM]} << 20)) ;;
*[kK]) bytes=$((${size%[kK]} << 10)) ;;
*) bytes=$size ;;
esac
[ "$bytes" -gt 0 ] || { echo "bad SIZE $size" >&2; exit 2; }
GO=${GO:-go}
rounds=${ROUNDS:-3}
for c in socat lz4 openssl ss; do
	command -v "$c" >/dev/null || { echo "$c not found" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "/usr/bin/time (GNU time) not found" >&2; exit 2; }

cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/bench-pipe.XXXXXX")
cleanup() {
	local pg
	for pg in $(jobs -p); do
		kill -- -"$pg" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building pipebench" >&2
$GO build -o "$tmp/pipebench" ./tools/pipebench
pb=$tmp/pipebench

chunk=$((bytes < 1 << 30 ? bytes : 1 << 30))
reps=$((bytes / chunk))
rem=$((bytes % chunk))
echo "generating $chunk bytes of mixed input" >&2
"$pb" gen -size "$chunk" >"$tmp/data"

echo "generating a throw-away CA and certificate" >&2
(
	cd "$tmp"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-pipe-ca \
		-keyout ca.key -out ca.pem 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
		-keyout key.pem -out req.pem 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext.cnf
	openssl x509 -req -in req.pem -CA ca.pem -CAkey ca.key -CAcreateserial \
		-days 2 -extfile ext.cnf -out cert.pem 2>/dev/null
)
cert=$tmp/cert.pem key=$tmp/key.pem ca=$tmp/ca.pem

# input writes the SIZE bytes of input.
input() {
	local i
	for ((i = 0; i < reps; i++)); do
		cat "$tmp/data"
	done
	if [ "$rem" -gt 0 ]; then
		head -c "$rem" "$tmp/data"
	fi
}

# t NAME CMD...: run CMD under GNU time, recording "wall user sys maxrss_kb".
t() {
	local name=$1
	shift
	/usr/bin/time -o "$tmp/time.$name" -f '%e %U %S %M' "$@"
}

port=$((20000 + RANDOM % 20000))
next_port() {
	port=$((port + 1))
	while [ -n "$(ss -Hltn "sport = :$port")" ]; do
		port=$((port + 1))
	done
}

wait_listen() {
	local i
	for ((i = 0; i < 1000; i++)); do
		[ -n "$(ss -Hltn "sport = :$port")" ] && return 0
		kill -0 "$1" 2>/dev/null || break
		sleep 0.01
	done
	echo "receiver did not listen on port $port" >&2
	cat "$tmp/err" >&2
	exit 1
}

now() { date +%s.%N; }

# run MODE TOOL: one transfer. recv_cmd and send_cmd, set by the caller,
# are evaluated with $port set; the receiver's output goes to wc -c.
run() {
	local mode=$1 tool=$2 start end got f
	next_port
	rm -f "$tmp"/time.* "$tmp/count"
	: >"$tmp/err"
	eval "$recv_cmd" 2>>"$tmp/err" | wc -c >"$tmp/count" &
	local rpid=$!
	wait_listen "$rpid"
	start=$(now)
	if ! input | eval "$send_cmd" 2>>"$tmp/err"; then
		echo "$mode/$tool: sender failed" >&2
		cat "$tmp/err" >&2
		exit 1
	fi
	if ! wait "$rpid"; then
		echo "$mode/$tool: receiver failed" >&2
		cat "$tmp/err" >&2
		exit 1
	fi
	end=$(now)
	got=$(cat "$tmp/count")
	if [ "$got" != "$bytes" ]; then
		echo "$mode/$tool: received $got bytes, want $bytes" >&2
		cat "$tmp/err" >&2
		exit 1
	fi
	for f in "$tmp"/time.*; do
		tail -n 1 "$f"
	done | awk -v mode="$mode" -v tool="$tool" -v bytes="$bytes" -v wall="$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" '
		{ cpu += $2 + $3; rss += $4; n++ }
		END {
			printf "%s %s %.6f %.2f %.0f %d\n", mode, tool, wall, cpu, rss, n >> "'"$tmp/results"'"
			printf "  %-5s %-16s %7.2f s %8.0f MB/s  cpu %6.2f s  rss %6.1f MiB  (%d processes)\n",
				mode, tool, wall, bytes / 1e6 / wall, cpu, rss / 1024, n
		}'
	grep -h '^pipebench recv: TLS' "$tmp/err" | sed 's/^/    /' || true
}

sock="socat -b 131072 -u"
tls_listen="cert=$cert,key=$key,cafile=$ca,verify=1"
tls_connect="cert=$cert,key=$key,cafile=$ca,commonname=localhost,no-sni=1"

# pair MODE: our transfer and the socat pipeline's, in an order that
# alternates by round: on a VM a run's speed depends on what ran just
# before it (page cache, writeback, memory handed back to the host).
pair() {
	local mode=$1 i
	for i in 0 1; do
		if [ $(((round + i) % 2)) -eq 0 ]; then
			recv_cmd=${ours_recv[$mode]} send_cmd=${ours_send[$mode]}
			run "$mode" pipebench
		else
			recv_cmd=${ref_recv[$mode]} send_cmd=${ref_send[$mode]}
			run "$mode" "${ref_name[$mode]}"
		fi
	done
}

declare -A ours_recv ours_send ref_recv ref_send ref_name
ours_recv[plain]='t r1 "$pb" recv -listen 127.0.0.1:$port'
ours_send[plain]='t s1 "$pb" send -addr 127.0.0.1:$port'
ref_recv[plain]='t r1 $sock TCP-LISTEN:$port,reuseaddr stdio'
ref_send[plain]='t s1 $sock stdio TCP:127.0.0.1:$port'
ref_name[plain]=socat
ours_recv[tls]='t r1 "$pb" recv -listen 127.0.0.1:$port -tls-cert "$cert" -tls-key "$key" -tls-ca "$ca"'
ours_send[tls]='t s1 "$pb" send -addr 127.0.0.1:$port -tls-cert "$cert" -tls-key "$key" -tls-ca "$ca"'
ref_recv[tls]='t r1 $sock OPENSSL-LISTEN:$port,reuseaddr,$tls_listen stdio'
ref_send[tls]='t s1 $sock stdio OPENSSL-CONNECT:127.0.0.1:$port,$tls_connect'
ref_name[tls]=socat
ours_recv[lz4]='t r1 "$pb" recv -listen 127.0.0.1:$port -lz4'
ours_send[lz4]='t s1 "$pb" send -addr 127.0.0.1:$port -lz4'
ref_recv[lz4]='t r1 $sock TCP-LISTEN:$port,reuseaddr stdio | t r2 lz4 -d'
ref_send[lz4]='t s1 lz4 -z | t s2 $sock stdio TCP:127.0.0.1:$port'
ref_name[lz4]='lz4|socat|lz4'

echo "moving $bytes bytes per transfer, $rounds round(s)"
: >"$tmp/results"
for ((round = 1; round <= rounds; round++)); do
	[ "$rounds" -gt 1 ] && echo "round $round"
	pair plain
	pair tls
	pair lz4
done

echo
echo "$rounds round(s), $bytes bytes each; MB/s as the median (best) of the rounds, CPU and RSS of the median run:"
sort -k1,1 -k2,2 -k3,3n "$tmp/results" | awk -v bytes="$bytes" '
	{
		k = $1 SUBSEP $2
		if (!(k in n)) { order[++nk] = k }
		i = ++n[k]; wall[k, i] = $3; cpu[k, i] = $4; rss[k, i] = $5
	}
	END {
		for (j = 1; j <= nk; j++) {
			k = order[j]; m = int((n[k] + 1) / 2)
			# An even count: the slower of the two middle runs.
			if (n[k] % 2 == 0) { m = n[k] / 2 + 1 }
			med[k] = wall[k, m]; best[k] = wall[k, 1]; mcpu[k] = cpu[k, m]; mrss[k] = rss[k, m]
		}
		printf "%-5s %-16s %9s %9s %9s %10s\n", "mode", "tool", "MB/s", "(best)", "CPU s", "RSS MiB"
		split("plain tls lz4", modes, " ")
		ref["plain"] = "socat"; ref["tls"] = "socat"; ref["lz4"] = "lz4|socat|lz4"
		for (i = 1; i <= 3; i++) {
			split("pipebench " ref[modes[i]], tools, " ")
			for (t = 1; t <= 2; t++) {
				k = modes[i] SUBSEP tools[t]
				printf "%-5s %-16s %9.0f %9.0f %9.2f %10.1f\n", modes[i], tools[t], bytes / 1e6 / med[k], bytes / 1e6 / best[k], mcpu[k], mrss[k] / 1024
			}
		}
		print ""
		print "ours vs socat: median speed-up (best vs best) and target, then CPU and RSS as ours/socat (below 1: ours uses less)"
		target["plain"] = 1.2; target["tls"] = 2; target["lz4"] = 2
		for (i = 1; i <= 3; i++) {
			m = modes[i]; o = m SUBSEP "pipebench"; s = m SUBSEP ref[m]
			x = med[s] / med[o]
			printf "%-5s %5.2fx (%.2fx)  target >= %gx: %-7s  CPU %.2fx  RSS %.2fx\n", m, x, best[s] / best[o], target[m], x >= target[m] ? "met" : "NOT met", mcpu[o] / mcpu[s], mrss[o] / mrss[s]
		}
	}'
