#!/bin/sh
# gen-qpress-fixtures.sh OUTDIR: produce real qpress archives with
# "mariadb-backup --backup --compress" from a throw-away server, plus an
# uncompressed backup of the same data taken right after it.
#
# Result:
#   OUTDIR/compressed/   the --compress backup (data files as NAME.qp)
#   OUTDIR/plain/        the uncompressed backup
#   OUTDIR/stable.txt    files (relative paths, no .qp) whose content cannot
#                        change between the two backups: .frm files and the
#                        MyISAM tables of database qpfx, which are flushed
#                        and never written after the load. InnoDB files, the
#                        Aria log and ibdata1 carry LSNs and are not listed.
#
# Needs mariadbd, mariadb-install-db, mariadb, mariadb-backup (MariaDB 10.11:
# --compress is deprecated there but still writes qpress/QuickLZ level 1).
# The server lives in a temporary directory, listens on a socket only, and is
# shut down on exit. Takes about 10-20 seconds.
set -eu

out=${1:?usage: gen-qpress-fixtures.sh OUTDIR}
for p in mariadbd mariadb-install-db mariadb mariadb-backup; do
	PATH=$PATH:/usr/sbin command -v "$p" >/dev/null || { echo "$p not found" >&2; exit 2; }
done
PATH=$PATH:/usr/sbin

mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qpfx.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ]; then
		mariadb-admin --no-defaults --socket="$tmp/s" --user=root shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

mariadb-install-db --no-defaults --datadir="$tmp/data" --user=root \
	--auth-root-authentication-method=normal --skip-test-db >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; exit 1; }

mariadbd --no-defaults --datadir="$tmp/data" --socket="$tmp/s" --skip-networking \
	--user=root --innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
	--log-error="$tmp/err.log" --pid-file="$tmp/pid" &
pid=$!

i=0
until mariadb --no-defaults --socket="$tmp/s" --user=root -e 'select 1' >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
		cat "$tmp/err.log" >&2
		echo "server did not start" >&2
		exit 1
	fi
	sleep 0.1
done

sql() { mariadb --no-defaults --socket="$tmp/s" --user=root "$@"; }

# text: compressible rows, about 150 KB of MyISAM data (several 64 KiB
# chunks); rnd: random bytes, so QuickLZ stores blocks uncompressed;
# one: a single short row, a one-block archive; empty: no rows, an
# archive without data blocks; inno: an InnoDB table (not stable).
sql <<'EOF'
CREATE DATABASE qpfx;
USE qpfx;
CREATE TABLE text (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=MyISAM;
INSERT INTO text SELECT seq, CONCAT('row ', seq, ' ', REPEAT(CHAR(97 + seq % 26), seq % 40), ' ', MD5(seq))
  FROM seq_1_to_1500;
CREATE TABLE rnd (id INT PRIMARY KEY, v VARBINARY(1000)) ENGINE=MyISAM;
INSERT INTO rnd SELECT seq, RANDOM_BYTES(1000) FROM seq_1_to_40;
CREATE TABLE one (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=MyISAM;
INSERT INTO one VALUES (1, 'hello qpress');
CREATE TABLE empty (id INT PRIMARY KEY) ENGINE=MyISAM;
CREATE TABLE inno (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
INSERT INTO inno SELECT seq, REPEAT(MD5(seq), 4) FROM seq_1_to_2000;
FLUSH TABLES;
EOF

rm -rf "$out/compressed" "$out/plain"
mariadb-backup --no-defaults --backup --compress --compress-threads=2 \
	--target-dir="$out/compressed" --user=root --socket="$tmp/s" >"$tmp/bk1.log" 2>&1 ||
	{ cat "$tmp/bk1.log" >&2; exit 1; }
mariadb-backup --no-defaults --backup \
	--target-dir="$out/plain" --user=root --socket="$tmp/s" >"$tmp/bk2.log" 2>&1 ||
	{ cat "$tmp/bk2.log" >&2; exit 1; }

(cd "$out/plain" && find . -type f \( -name '*.frm' -o -path './qpfx/*.MY[DI]' \) | sed 's|^\./||' | sort) >"$out/stable.txt"
